// Key Vault for the app's three secrets: the GitHub App private key and the webhook secret, whose values the
// maintainer sets after `azd up` (see README "Deploy to Azure"), and the dashboard's signing secret, which the
// postprovision hook generates once (infra/hooks/postprovision.*). The Function App reads them through Key Vault
// references resolved with its user-assigned identity. Azure RBAC, soft delete, purge protection.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Key Vault name (3-24 characters, globally unique).')
param keyVaultName string

@description('Principal id of the Function App identity (reads the secrets).')
param appPrincipalId string

@description('Object id of the maintainer who sets the secret values (azd passes the signed-in user); empty to skip.')
param secretsOfficerPrincipalId string = ''

@description('Days a deleted vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

// Names the Function App's Key Vault references point at.
var privateKeySecretName = 'github-app-private-key'
var webhookSecretName = 'triage-webhook-secret'
var dashboardSecretName = 'triage-dashboard-secret'

var roleIds = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109:No firewall: Key Vault references from a Function App without VNet integration come from no fixed address and App Service is not a trusted service for them; access is Azure RBAC only.
  //checkov:skip=CKV_AZURE_189:Public endpoint for the same reason; every request needs an Entra ID token with a Key Vault data role.
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Key Vault Secrets User: read secret values, which is what resolving the app's three Key Vault references needs.
resource appReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets Officer (the maintainer, not the app): set the GitHub secrets after deployment, and lets the
// postprovision hook (run as the maintainer) create the dashboard secret; an Owner of the subscription cannot
// write secrets in an RBAC vault without a data-plane role.
resource maintainerSetsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(secretsOfficerPrincipalId)) {
  name: guid(vault.id, secretsOfficerPrincipalId, roleIds.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
    principalId: secretsOfficerPrincipalId
  }
}

output keyVaultName string = vault.name
output keyVaultUri string = vault.properties.vaultUri
output privateKeySecretUri string = '${vault.properties.vaultUri}secrets/${privateKeySecretName}'
output webhookSecretUri string = '${vault.properties.vaultUri}secrets/${webhookSecretName}'
output dashboardSecretUri string = '${vault.properties.vaultUri}secrets/${dashboardSecretName}'
output privateKeySecretName string = privateKeySecretName
output webhookSecretName string = webhookSecretName
output dashboardSecretName string = dashboardSecretName
