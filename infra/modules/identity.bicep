// Two user-assigned managed identities, so that each workload holds only what it needs:
// * app: the Function App (host storage, queues, Cosmos DB, Key Vault references, Azure ML job submission);
// * training: the Azure ML GPU cluster (reads datasets, writes models, pulls its image).
// Training code runs third-party packages; it never gets the Function App's identity, so it cannot read
// the GitHub App private key or write the app's documents.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Name of the Function App identity.')
param appIdentityName string

@description('Name of the training cluster identity.')
param trainingIdentityName string

resource app 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: appIdentityName
  location: location
  tags: tags
}

resource training 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: trainingIdentityName
  location: location
  tags: tags
}

output appIdentityId string = app.id
output appIdentityName string = app.name
output appClientId string = app.properties.clientId
output appPrincipalId string = app.properties.principalId
output trainingIdentityId string = training.id
output trainingClientId string = training.properties.clientId
output trainingPrincipalId string = training.properties.principalId
