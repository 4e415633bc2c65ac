// issue-triage on Azure: `azd up` provisions this (subscription scope: it creates the resource group) and deploys the
// Function App code; the hooks do what depends on deployed code or on the date (azure.yaml, infra/hooks/):
// preprovision checks the subscription before anything is created, postprovision sets the dashboard secret and the
// budget, postdeploy subscribes model_created to Event Grid and runs the smoke test.
// See infra/README.md for the resource map, identities and roles, and docs/deploy.md for the steps.
//
// Provisioning twice, or in a later month, must succeed by construction, so nothing here depends on deployed code or on
// dates: no listKeys of the Functions host (a restarting host answers ServiceUnavailable, Azure/azure-functions-host#5722)
// and no budget (its start date cannot be updated, Azure/azure-quickstart-templates#7095, Azure/bicep#7149).
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------------------------
// azd
// ---------------------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region of every resource (it must offer Flex Consumption and the GPU VM size).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the signed-in maintainer (azd: AZURE_PRINCIPAL_ID); gets Key Vault Secrets Officer to set the GitHub secrets (and the postprovision hook the dashboard secret). Empty to skip.')
param principalId string = ''

// ---------------------------------------------------------------------------------------------------------------
// The app (TRIAGE_* and GITHUB_* settings)
// ---------------------------------------------------------------------------------------------------------------

@description('Optional: comma-separated owner/name repositories to serve (TRIAGE_REPOSITORIES). Empty: every repository the GitHub App is installed on; set, it restricts them.')
param repositories string = ''

@description('GitHub App id (GITHUB_APP_ID), from the App\'s settings page.')
param githubAppId string

@description('Optional: the GitHub App\'s installation id (GITHUB_APP_INSTALLATION_ID). Leave it empty to serve every installation: each repository\'s installation comes from its deliveries or GET /repos/{owner}/{repo}/installation.')
param githubAppInstallationId string = ''

@description('GitHub REST API base URL (GITHUB_API_URL); https://HOST/api/v3 for GitHub Enterprise Server.')
param githubApiUrl string = 'https://api.github.com'

@description('The GitHub App\'s bot login, <app-slug>[bot] (TRIAGE_BOT_LOGIN): its own labels are never learned.')
param botLogin string = 'issue-triage[bot]'

@description('Log GitHub writes instead of making them (TRIAGE_DRY_RUN). Safe default: true.')
param dryRun bool = true

@description('Durable Functions task hub name (TRIAGE_TASK_HUB).')
param taskHub string = 'triage'

@description('NCRONTAB schedule (UTC) of the incremental scrape (TRIAGE_SCRAPE_SCHEDULE).')
param scrapeSchedule string = '0 */15 * * * *'

@description('NCRONTAB schedule (UTC) of the scheduled retrain (TRIAGE_TRAIN_SCHEDULE): Sundays 03:00.')
param trainSchedule string = '0 0 3 * * 0'

@description('Human label changes on a repository that trigger a retrain (TRIAGE_RETRAIN_AFTER).')
@minValue(1)
param retrainAfter int = 50

@description('Minutes after which the orchestrator cancels a training job (TRIAGE_TRAINING_DEADLINE_MINUTES).')
@minValue(10)
param trainingDeadlineMinutes int = 240

@description('Seconds between training status polls (TRIAGE_TRAINING_POLL_SECONDS).')
@minValue(10)
param trainingPollSeconds int = 60

// ---------------------------------------------------------------------------------------------------------------
// The maintainer dashboard (App Service Authentication with Microsoft Entra ID)
// ---------------------------------------------------------------------------------------------------------------

@description('Application (client) id of the Entra app registration for the dashboard sign-in (README "Deploy to Azure"). Empty: App Service Authentication stays off and the dashboard answers 503.')
param dashboardClientId string = ''

@description('Comma-separated user principal names (alice@contoso.com) or Entra object ids of the maintainers allowed into the dashboard (TRIAGE_DASHBOARD_MAINTAINERS); empty: nobody.')
param dashboardMaintainers string = ''

// ---------------------------------------------------------------------------------------------------------------
// Compute and cost
// ---------------------------------------------------------------------------------------------------------------

@description('Most Flex Consumption instances (40 is the plan\'s minimum setting); bounds the bill of a traffic spike.')
@minValue(40)
@maxValue(1000)
param functionMaximumInstances int = 40

@description('Memory per Flex Consumption instance in MB (the ONNX model and tokenizer fit in 2048).')
@allowed([
  512
  2048
  4096
])
param functionInstanceMemoryMB int = 2048

@description('GPU VM size of the training cluster (needs Azure ML quota for its family in the region; the preprovision hook checks).')
param gpuVmSize string = 'Standard_NC4as_T4_v3'

@description('LowPriority nodes cost a fraction of Dedicated ones but can be evicted (the job then restarts).')
@allowed([
  'LowPriority'
  'Dedicated'
])
param gpuVmPriority string = 'LowPriority'

@description('Most GPU nodes (one job uses one node).')
@minValue(1)
@maxValue(10)
param gpuMaxNodes int = 1

@description('Minutes an idle GPU node is kept before the cluster scales to zero.')
@minValue(1)
@maxValue(120)
param gpuIdleMinutesBeforeScaleDown int = 10

@description('Minutes after which Azure ML itself cancels a training job (TRIAGE_AML_TIMEOUT_MINUTES).')
@minValue(10)
param amlTimeoutMinutes int = 180

@description('Base image of the training jobs (TRIAGE_AML_IMAGE); empty: the app\'s default, Microsoft\'s public Azure ML CUDA image. The smoke test checks that it resolves.')
param amlImage string = ''

@description('Create a container registry so that Azure ML builds the training image from training_job/environment/conda.yml (about $5 a month). false (default): jobs run on the public Azure ML base image and install their packages when they start (a few minutes more per job).')
param useContainerRegistry bool = false

@description('Always-ready instances for the Durable Functions group (Microsoft\'s recommendation for Flex Consumption is 1); each bills its instance memory around the clock, about $21 a month at 2048 MB. 0: orchestrations wake on demand.')
@minValue(0)
@maxValue(10)
param durableAlwaysReadyInstances int = 0

@description('Daily Log Analytics ingestion cap in GB (-1: none).')
param logDailyCapGb int = 1

// ---------------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  app: 'issue-triage'
}
var functionAppName = 'func-${resourceToken}'
var amlComputeName = 'gpu-cluster'
var amlDatastoreName = 'triage'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    location: location
    tags: tags
    appIdentityName: 'id-api-${resourceToken}'
    trainingIdentityName: 'id-train-${resourceToken}'
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    dailyQuotaGb: logDailyCapGb
    appPrincipalId: identity.outputs.appPrincipalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    storageAccountName: 'st${resourceToken}'
    deploymentContainerName: 'app-package'
    systemTopicName: 'evgt-${resourceToken}'
    appPrincipalId: identity.outputs.appPrincipalId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    location: location
    tags: tags
    accountName: 'cosmos-${resourceToken}'
    appPrincipalId: identity.outputs.appPrincipalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    keyVaultName: 'kv-${resourceToken}'
    appPrincipalId: identity.outputs.appPrincipalId
    secretsOfficerPrincipalId: principalId
  }
}

module ml 'modules/ml.bicep' = {
  name: 'ml'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceName: 'mlw-${resourceToken}'
    workspaceStorageAccountName: 'stml${resourceToken}'
    workspaceKeyVaultName: 'kvml-${resourceToken}'
    containerRegistryName: 'cr${resourceToken}'
    useContainerRegistry: useContainerRegistry
    computeName: amlComputeName
    vmSize: gpuVmSize
    vmPriority: gpuVmPriority
    maxNodeCount: gpuMaxNodes
    idleMinutesBeforeScaleDown: gpuIdleMinutesBeforeScaleDown
    datastoreName: amlDatastoreName
    dataStorageAccountName: storage.outputs.storageAccountName
    dataContainerName: storage.outputs.dataContainerName
    appPrincipalId: identity.outputs.appPrincipalId
    trainingIdentityId: identity.outputs.trainingIdentityId
    trainingPrincipalId: identity.outputs.trainingPrincipalId
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    location: location
    tags: tags
    planName: 'plan-${resourceToken}'
    functionAppName: functionAppName
    identityId: identity.outputs.appIdentityId
    identityClientId: identity.outputs.appClientId
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    cosmosEndpoint: cosmos.outputs.endpoint
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    privateKeySecretUri: keyVault.outputs.privateKeySecretUri
    webhookSecretUri: keyVault.outputs.webhookSecretUri
    dashboardSecretUri: keyVault.outputs.dashboardSecretUri
    dashboardMaintainers: dashboardMaintainers
    dashboardClientId: dashboardClientId
    maximumInstanceCount: functionMaximumInstances
    instanceMemoryMB: functionInstanceMemoryMB
    taskHub: taskHub
    repositories: repositories
    scrapeSchedule: scrapeSchedule
    trainSchedule: trainSchedule
    retrainAfter: retrainAfter
    trainingDeadlineMinutes: trainingDeadlineMinutes
    trainingPollSeconds: trainingPollSeconds
    dryRun: dryRun
    botLogin: botLogin
    githubAppId: githubAppId
    githubAppInstallationId: githubAppInstallationId
    githubApiUrl: githubApiUrl
    amlWorkspaceName: ml.outputs.workspaceName
    amlComputeName: ml.outputs.computeName
    amlDatastoreName: ml.outputs.datastoreName
    amlTimeoutMinutes: amlTimeoutMinutes
    amlBuildImage: useContainerRegistry
    amlImage: amlImage
    durableAlwaysReadyInstances: durableAlwaysReadyInstances
  }
  // Reading the outputs of monitoring, storage, cosmos, keyVault and ml also orders this module after their role
  // assignments: the host starts as soon as the app exists, with its data-plane roles already in place.
}

// Not here, on purpose (see the top of this file):
// - the Event Grid subscription of model_created (modules/model-events.bicep) needs the host's blobs_extension key: the
//   postdeploy hook deploys it, with retries, once the code runs, as Microsoft's Event Grid blob-trigger azd sample
//   (Azure-Samples/functions-quickstart-python-azd-eventgrid-blob) creates its subscription in a post-deploy script;
// - the monthly budget (modules/budget.bicep) is created by the postprovision hook only when the resource group has
//   none, with the current month as its start date, and is then only ever updated with its own start date.

// ---------------------------------------------------------------------------------------------------------------
// Outputs: azd stores them in .azure/<env>/.env; the hooks and the README's commands read them.
// ---------------------------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_SUBSCRIPTION_ID string = subscription().subscriptionId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.functionAppName
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output SERVICE_API_NAME string = functionApp.outputs.functionAppName
output SERVICE_API_URI string = functionApp.outputs.url
output AZURE_CLIENT_ID string = identity.outputs.appClientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.storageAccountName
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = storage.outputs.systemTopicName
output AZURE_COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output AZURE_COSMOS_ACCOUNT_NAME string = cosmos.outputs.accountName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.keyVaultName
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.keyVaultUri
output AZURE_KEY_VAULT_GITHUB_KEY_SECRET string = keyVault.outputs.privateKeySecretName
output AZURE_KEY_VAULT_WEBHOOK_SECRET string = keyVault.outputs.webhookSecretName
output AZURE_KEY_VAULT_DASHBOARD_SECRET string = keyVault.outputs.dashboardSecretName
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_LOG_ANALYTICS_NAME string = monitoring.outputs.logAnalyticsName
output AZURE_ML_WORKSPACE_NAME string = ml.outputs.workspaceName
output AZURE_ML_COMPUTE_NAME string = ml.outputs.computeName
output AZURE_ML_DATASTORE_NAME string = ml.outputs.datastoreName
output AZURE_CONTAINER_REGISTRY_NAME string = ml.outputs.containerRegistryName
