"""What the agent saw on vaultlet is what it saw on OpenBao: the sink file,
the wrapping token's lookup, the agent's token before and after renewal (field
names and JSON types) and the certificate pkiCert rendered (extensions, key).
Runs after test_agent.py has run against both servers."""
from __future__ import annotations

import pytest

from conftest import OBSERVED

def test_the_agent_saw_the_same_on_both_servers():
    if set(OBSERVED) != {"vaultlet", "openbao"}:
        pytest.skip("needs test_agent.py's run against both servers")
    vaultlet, openbao = OBSERVED["vaultlet"], OBSERVED["openbao"]
    assert set(vaultlet) == set(openbao), "a step failed on one server only"
    for what in sorted(openbao):
        assert vaultlet[what] == openbao[what], what
