"""How the Azure adapters authenticate: a connection string, a given credential, or ``DefaultAzureCredential``
(the Function app's managed identity in Azure, the developer's login locally)."""

from __future__ import annotations

from azure.core.credentials import (
    AzureNamedKeyCredential,
    AzureSasCredential,
    TokenCredential,
)

# What the storage factories accept besides None (which means DefaultAzureCredential).
StorageCredential = TokenCredential | AzureNamedKeyCredential | AzureSasCredential | str
# What the Cosmos factory accepts besides None: a token credential or an account key.
CosmosCredential = TokenCredential | str


def default_credential() -> TokenCredential:
    """``DefaultAzureCredential``: managed identity in Azure, the developer's login locally."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
