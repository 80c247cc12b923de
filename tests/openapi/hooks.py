"""schemathesis hooks for tests/openapi/run.

One check, `no_5xx_but_vaults_own`: schemathesis' not_a_server_error, with no
exception: where Vault itself answers a client's mistake with 500 (the
cubbyhole's "missing path" / "missing data fields"), vaultlet answers 400, so
every 5xx fails the run. And the bodies of the one non-JSON request type.
"""

import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

# `POST pki/ocsp` takes a DER OCSPRequest (`application/ocsp-request`), which
# no JSON Schema describes: send arbitrary bytes, a little past the size limit.
schemathesis.openapi.media_type("application/ocsp-request", st.binary(max_size=2100))


@schemathesis.check
def no_5xx_but_vaults_own(ctx, response, case):
    return not_a_server_error(ctx, response, case)
