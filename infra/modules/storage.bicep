// The app's storage account: Functions host storage (AzureWebJobsStorage), the Durable Functions task hub,
// the Flex Consumption deployment container, the `triage` container (issues/, datasets/, models/; the Azure ML
// datastore points at it), the label-requests queues, and the Event Grid system topic whose
// BlobCreated events drive the model_created function. Entra ID only: shared keys are disabled.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Storage account name (3-24 lower-case letters and digits).')
param storageAccountName string

@description('Blob container of the Flex Consumption deployment packages.')
param deploymentContainerName string

@description('Event Grid system topic name for the account\'s blob events.')
param systemTopicName string

@description('Principal id of the Function App identity.')
param appPrincipalId string

@description('Days deleted blobs and containers stay recoverable.')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 7

// The container and queues the app's code names (its CONTAINER and LABEL_REQUESTS constants).
var dataContainerName = 'triage'
var queueNames = [
  'label-requests'
  'label-requests-poison'
]

var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35:No VNet (Flex without VNet integration, Azure ML serverless, Event Grid): the endpoint stays reachable, but only Entra ID tokens with a data role are accepted (shared keys off).
  //checkov:skip=CKV_AZURE_59:Public endpoint for the same reason; anonymous and shared-key access are both disabled.
  //checkov:skip=CKV_AZURE_206:LRS on purpose (cost): issues are re-scrapable from GitHub, datasets and models rebuildable; soft delete guards mistakes.
  //checkov:skip=CKV_AZURE_43:The name is a parameter ('st' + uniqueString: 3-24 lower-case alphanumerics) that checkov cannot evaluate.
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: false
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

resource dataContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: dataContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// BlobCreated events of this account; the subscription to model_created is in model-events.bicep,
// deployed after the code (it needs the blobs_extension system key that the deployed host creates).
resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Storage Blob Data Owner: Microsoft's documented minimum for identity-based AzureWebJobsStorage (host keys, leases,
// timer singletons, blob-trigger receipts) and for Flex Consumption deployment storage; Contributor is not sufficient there.
resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Queue Data Contributor: the label-requests queue trigger and its poison queue, the webhook's enqueue,
// the Durable task hub's control/work-item queues and the blob trigger's internal queue.
resource appQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roleIds.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor: the Durable Functions task hub's history and instance tables (and the host's diagnostic events).
resource appTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output storageAccountName string = storage.name
output storageAccountId string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output dataContainerName string = dataContainer.name
output deploymentContainerName string = deploymentContainer.name
output systemTopicName string = systemTopic.name
