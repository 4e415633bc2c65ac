// Cosmos DB for NoSQL, serverless, Entra ID only. The app's identity may read and write items but not
// create databases or containers (control plane), so every container the code uses is declared here.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Cosmos DB account name.')
param accountName string

@description('Principal id of the Function App identity.')
param appPrincipalId string

// triage/bootstrap.py DATABASE and the logical containers of triage/ (ingest, labeler, feedback, registry,
// training, scraper, intake, jobs, tuning); each is partitioned by repository.
var databaseName = 'triage'
var containerNames = [
  'issues'
  'predictions'
  'feedback'
  'models'
  'runs'
  'cursors'
  'deliveries'
  'labels'
  'locks'
  'poison'
  'tuning'
]
var partitionKeyPath = '/repo'

// Cosmos DB Built-in Data Contributor (a Cosmos DB data-plane role, not an Azure RBAC role).
var cosmosDataContributorRoleId = '00000000-0000-0000-0000-000000000002'

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  //checkov:skip=CKV_AZURE_101:No VNet (Flex without VNet integration): the endpoint stays public but local (key) auth is disabled, Entra ID + data-plane RBAC only.
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
    enableAutomaticFailover: false
    enableMultipleWriteLocations: false
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource containers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [for containerName in containerNames: {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: {
        paths: [
          partitionKeyPath
        ]
        kind: 'Hash'
        version: 2
      }
    }
  }
}]

// Cosmos DB Built-in Data Contributor scoped to the `triage` database: read, write, query and delete items; no
// control-plane rights and nothing outside this database.
resource appDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: account
  name: guid(account.id, appPrincipalId, cosmosDataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}'
    principalId: appPrincipalId
    scope: '${account.id}/dbs/${databaseName}'
  }
  dependsOn: [
    database
  ]
}

output accountName string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
