// Azure ML for GPU training (the app's Azure ML adapter): a workspace with identity-based system datastores and its
// own storage account and key vault (and a container registry only with useContainerRegistry, ml-registry.bicep); a GPU
// cluster that scales to zero; and an identity-based blob datastore over the app's `triage` container, where jobs read
// datasets/ and write models/.
//
// Identities: the Function App submits, polls and cancels jobs and uploads the code snapshot (AzureML Data
// Scientist + blob data on the workspace storage). Jobs run as the cluster's training identity (the job sets no
// identity, so Azure ML falls back to the compute's managed identity): it reads and writes the `triage`
// container only, reads the code snapshot / writes logs on the workspace storage, and pulls the image (AcrPull only
// when there is a registry).
// The workspace's own system-assigned identity is granted access to its associated storage, key vault and
// registry by the Azure ML resource provider when the workspace is created (not by these templates).

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Azure ML workspace name.')
param workspaceName string

@description('Storage account of the workspace\'s system datastores (code snapshots, logs).')
param workspaceStorageAccountName string

@description('Key vault the workspace requires (the app\'s secrets live in a separate vault).')
param workspaceKeyVaultName string

@description('Container registry for a built training environment image (only with useContainerRegistry).')
param containerRegistryName string

@description('Create a container registry for the workspace, so that Azure ML can build training_job/environment/conda.yml into an image (about $5 a month, Basic). false (default): jobs run on the public base image and install their packages when they start; no registry exists.')
param useContainerRegistry bool = false

@description('GPU compute cluster name (TRIAGE_AML_COMPUTE).')
param computeName string

@description('VM size of the cluster nodes.')
param vmSize string

@description('LowPriority (evictable, much cheaper) or Dedicated nodes.')
@allowed([
  'LowPriority'
  'Dedicated'
])
param vmPriority string = 'LowPriority'

@description('Most nodes the cluster scales out to.')
@minValue(1)
param maxNodeCount int = 1

@description('Minutes an idle node is kept before the cluster scales back to zero.')
@minValue(1)
param idleMinutesBeforeScaleDown int = 10

@description('Datastore over the app\'s `triage` container (TRIAGE_AML_DATASTORE).')
param datastoreName string

@description('The app\'s storage account (holds the `triage` container).')
param dataStorageAccountName string

@description('The blob container with issues/, datasets/ and models/.')
param dataContainerName string

@description('Principal id of the Function App identity (submits jobs).')
param appPrincipalId string

@description('Resource id of the training identity (the cluster runs jobs as it).')
param trainingIdentityId string

@description('Principal id of the training identity.')
param trainingPrincipalId string

var roleIds = {
  azureMLDataScientist: 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
}

resource workspaceStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35:No VNet (Azure ML compute without VNet, Flex without VNet integration): only Entra ID tokens with a data role are accepted (shared keys off).
  //checkov:skip=CKV_AZURE_59:Public endpoint for the same reason; anonymous and shared-key access are both disabled.
  //checkov:skip=CKV_AZURE_206:LRS on purpose (cost): it holds code snapshots and job logs only, all reproducible.
  //checkov:skip=CKV_AZURE_43:The name is a parameter ('stml' + uniqueString: 3-24 lower-case alphanumerics) that checkov cannot evaluate.
  name: workspaceStorageAccountName
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
    isHnsEnabled: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource workspaceKeyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109:No firewall: the workspace and its serverless services reach it without a VNet; access is Azure RBAC only.
  //checkov:skip=CKV_AZURE_189:Public endpoint for the same reason; every request needs an Entra ID token with a Key Vault data role.
  name: workspaceKeyVaultName
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
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// The registry and the training identity's AcrPull on it, only when images are built (a module, not a conditional
// resource, so that checkov still evaluates it). Without a registry Azure ML pulls the public base image directly.
module registry 'ml-registry.bicep' = if (useContainerRegistry) {
  name: 'ml-registry'
  params: {
    location: location
    tags: tags
    containerRegistryName: containerRegistryName
    trainingPrincipalId: trainingPrincipalId
  }
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' = {
  //checkov:skip=CKV_AZURE_243:No VNet or private endpoints (a managed network adds a firewall's cost); access to the workspace is Entra ID + Azure RBAC.
  name: workspaceName
  location: location
  tags: tags
  kind: 'Default'
  sku: {
    name: 'Basic'
    tier: 'Basic'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    friendlyName: workspaceName
    description: 'issue-triage: fine-tunes the issue labeler on GPU (training_job).'
    storageAccount: workspaceStorage.id
    keyVault: workspaceKeyVault.id
    containerRegistry: useContainerRegistry ? registry.outputs.registryId : null
    systemDatastoresAuthMode: 'identity'
    publicNetworkAccess: 'Enabled'
    hbiWorkspace: false
    v1LegacyMode: false
  }
}

resource compute 'Microsoft.MachineLearningServices/workspaces/computes@2024-04-01' = {
  parent: workspace
  name: computeName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${trainingIdentityId}': {}
    }
  }
  properties: {
    computeType: 'AmlCompute'
    description: 'GPU nodes for training_job; scales to zero when idle.'
    disableLocalAuth: true
    properties: {
      vmSize: vmSize
      vmPriority: vmPriority
      osType: 'Linux'
      scaleSettings: {
        minNodeCount: 0
        maxNodeCount: maxNodeCount
        nodeIdleTimeBeforeScaleDown: 'PT${idleMinutesBeforeScaleDown}M'
      }
      remoteLoginPortPublicAccess: 'Disabled'
    }
  }
  // With a registry, the cluster is created once its identity may pull from it.
  dependsOn: [
    registry
  ]
}

resource dataStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataStorageAccountName
}

resource dataBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: dataStorage
  name: 'default'
}

resource dataContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: dataBlobService
  name: dataContainerName
}

// Identity-based (credential-less) datastore: no key or SAS is stored; whoever reads or writes through it uses its
// own Entra ID token (in jobs, the training identity).
resource datastore 'Microsoft.MachineLearningServices/workspaces/datastores@2024-04-01' = {
  parent: workspace
  name: datastoreName
  properties: {
    datastoreType: 'AzureBlob'
    description: 'The app\'s `${dataContainerName}` container: datasets/ (job input) and models/ (job output).'
    accountName: dataStorage.name
    containerName: dataContainer.name
    endpoint: environment().suffixes.storage
    protocol: 'https'
    subscriptionId: subscription().subscriptionId
    resourceGroup: resourceGroup().name
    serviceDataAccessAuthIdentity: 'None'
    credentials: {
      credentialsType: 'None'
    }
  }
}

// AzureML Data Scientist on the workspace: submit, read and cancel jobs and register the code snapshot; it cannot
// create or change compute, the workspace or role assignments.
resource appSubmitsJobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, appPrincipalId, roleIds.azureMLDataScientist)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.azureMLDataScientist)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Contributor on the workspace storage for the app: the SDK uploads the job's code snapshot to the
// identity-based workspaceblobstore with the caller's own token (no keys exist to hand out SAS).
resource appUploadsCode 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspaceStorage.id, appPrincipalId, roleIds.storageBlobDataContributor)
  scope: workspaceStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Contributor on the workspace storage for the training identity: jobs download the code snapshot
// and write logs and outputs to the system datastores with the compute identity (Microsoft: "Model Registry and ML Flow").
resource trainingUsesWorkspaceStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspaceStorage.id, trainingPrincipalId, roleIds.storageBlobDataContributor)
  scope: workspaceStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: trainingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Contributor on the `triage` container only (not the account): jobs read datasets/ and write
// models/ there; the host storage and deployment packages of the app stay out of reach of training code.
resource trainingUsesDataContainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dataContainer.id, trainingPrincipalId, roleIds.storageBlobDataContributor)
  scope: dataContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: trainingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output workspaceName string = workspace.name
output computeName string = compute.name
output datastoreName string = datastore.name
output containerRegistryName string = useContainerRegistry ? registry.outputs.registryName : ''
output workspaceStorageAccountName string = workspaceStorage.name
