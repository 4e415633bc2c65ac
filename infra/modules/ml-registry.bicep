// The Azure ML workspace's container registry: only when the training image is built from
// training_job/environment/conda.yml (main.bicep useContainerRegistry, TRIAGE_USE_CONTAINER_REGISTRY=true).
//
// Off by default. A Basic registry bills about $5 a month whether it is used or not, the largest fixed cost of the
// app at rest (docs/deploy.md, cost). Without it, training jobs run on the public Azure ML base image from the
// Microsoft Container Registry (mcr.microsoft.com/azureml/..., pulled anonymously, no image build) and install the
// pinned packages of conda.yml when they start, which adds a few minutes per job.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Container registry name.')
param containerRegistryName string

@description('Principal id of the training identity (the GPU cluster pulls the built image with it).')
param trainingPrincipalId string

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  //checkov:skip=CKV_AZURE_139:Basic SKU (cost) has no private endpoints; pulls need an Entra ID token with AcrPull (admin user and anonymous pull are off).
  //checkov:skip=CKV_AZURE_166:Quarantine is a Premium feature; the registry only holds Azure ML's build of training_job/environment/conda.yml.
  //checkov:skip=CKV_AZURE_163:Image scanning is Microsoft Defender for Containers, a subscription-level plan, not a registry property.
  name: containerRegistryName
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

// AcrPull for the training identity: the cluster pulls the built environment image with its managed identity
// (the registry's admin user is disabled). ml.bicep orders the cluster after this module.
resource trainingPullsImages 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, trainingPrincipalId, acrPullRoleId)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
    principalId: trainingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output registryId string = registry.id
output registryName string = registry.name
