#!/bin/sh
# Image entrypoint, as Vault's: `docker run IMAGE server -dev` or
# `docker run IMAGE status` runs `vaultlet server -dev` / `vaultlet status`;
# a program that exists (sh, vault, vaultlet, wget …) runs as given.
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ] || ! command -v "$1" >/dev/null 2>&1; then
    set -- vaultlet "$@"
fi
exec "$@"
