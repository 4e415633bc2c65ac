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

// The app's DATABASE and the containers of triage/ports/records.py CONTAINERS; each is partitioned by repository.
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
  'installations'
]
var partitionKeyPath = '/repo'
// Every container's indexing policy, equal to INDEXING_POLICY in triage/adapters/azure/cosmos.py (a test keeps them
// equal): range indexes on every path except the long texts nobody filters on (cheaper writes), and one composite
// index (field desc, id desc) per field the app reads "newest first" (ORDER BY on two paths needs one).
var indexingPolicy = {
  indexingMode: 'consistent'
  automatic: true
  includedPaths: [
    {
      path: '/*'
    }
  ]
  excludedPaths: [
    {
      path: '/body/?'
    }
    {
      path: '/title/?'
    }
    {
      path: '/label_events/*'
    }
    {
      path: '/assign_events/*'
    }
    {
      path: '/paths/*'
    }
    {
      path: '/message/*'
    }
    {
      path: '/top/*'
    }
    {
      path: '/reasons/*'
    }
    {
      path: '/similar/*'
    }
    {
      path: '/"_etag"/?'
    }
  ]
  compositeIndexes: [
    [
      {
        path: '/decided_at'
        order: 'descending'
      }
      {
        path: '/id'
        order: 'descending'
      }
    ]
    [
      {
        path: '/started_at'
        order: 'descending'
      }
      {
        path: '/id'
        order: 'descending'
      }
    ]
    [
      {
        path: '/at'
        order: 'descending'
      }
      {
        path: '/id'
        order: 'descending'
      }
    ]
    [
      {
        path: '/recorded_at'
        order: 'descending'
      }
      {
        path: '/id'
        order: 'descending'
      }
    ]
  ]
}
// Claims on webhook deliveries and comments expire after 30 days: GitHub redelivers for 3 days at most
// (docs.github.com, "Redelivering webhooks"), and an expired comment claim is rebuilt from GitHub itself.
var claimsTtlSeconds = 30 * 24 * 3600

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
      defaultTtl: containerName == 'deliveries' ? claimsTtlSeconds : null
      indexingPolicy: indexingPolicy
    }
  }
}]

// Cosmos DB Built-in Data Contributor on this account (which holds only the `triage` database): read, write, query and
// delete items; no control-plane rights (databases and containers are declared above). Scoped to the account, not the
// database: the SDKs issue metadata requests when they start (the account's global configuration and regions) under
// the readMetadata action, and what that action allows depends on the scope of the assignment
// (learn.microsoft.com/azure/cosmos-db/how-to-setup-rbac#metadata-requests, whose Bicep example assigns the account
// scope); narrower scopes fail those reads with 403 substatus 5301 (Azure/azure-cosmos-dotnet-v3#3638).
resource appDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: account
  // A name of its own for the account scope: an environment that has the earlier database-scoped assignment gets a
  // second one instead of an in-place change of scope, which these templates do not rely on the API accepting.
  name: guid(account.id, appPrincipalId, cosmosDataContributorRoleId, 'account')
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}'
    principalId: appPrincipalId
    scope: account.id
  }
  dependsOn: [
    database
  ]
}

output accountName string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
