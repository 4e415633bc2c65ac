// The Function App on the Flex Consumption plan (Linux, Python 3.11), running as its user-assigned identity
// only. Every connection is identity-based: no connection string, account key or SAS appears in its settings.
// The two secrets are Key Vault references resolved with the same identity (keyVaultReferenceIdentity).

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Flex Consumption plan name.')
param planName string

@description('Function App name.')
param functionAppName string

@description('azd service name (azure.yaml) that deploys the code here.')
param serviceName string = 'api'

@description('Resource id of the app identity.')
param identityId string

@description('Client id of the app identity.')
param identityClientId string

@description('Blob endpoint of the app storage account (https://<account>.blob.core.windows.net/).')
param blobEndpoint string

@description('Queue endpoint of the app storage account.')
param queueEndpoint string

@description('Table endpoint of the app storage account.')
param tableEndpoint string

@description('Blob container of the deployment packages.')
param deploymentContainerName string

@description('Cosmos DB account endpoint.')
param cosmosEndpoint string

@description('Application Insights connection string (ingestion is Entra-only: local auth is disabled).')
param applicationInsightsConnectionString string

@description('Secret URI of the GitHub App private key (PEM).')
param privateKeySecretUri string

@description('Secret URI of the GitHub webhook secret.')
param webhookSecretUri string

@description('Python version of the Flex runtime.')
@allowed([
  '3.11'
])
param pythonVersion string = '3.11'

@description('Most instances the app scales out to (a cost guard).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Durable Functions task hub name (TRIAGE_TASK_HUB).')
param taskHub string

@description('Comma-separated owner/name repositories to scrape and retrain (TRIAGE_REPOSITORIES).')
param repositories string

@description('NCRONTAB schedule of the scrape timer (TRIAGE_SCRAPE_SCHEDULE).')
param scrapeSchedule string

@description('NCRONTAB schedule of the training timer (TRIAGE_TRAIN_SCHEDULE).')
param trainSchedule string

@description('Human label changes that trigger a retrain (TRIAGE_RETRAIN_AFTER).')
param retrainAfter int

@description('Minutes after which a training job is cancelled (TRIAGE_TRAINING_DEADLINE_MINUTES).')
param trainingDeadlineMinutes int

@description('Seconds between training status polls (TRIAGE_TRAINING_POLL_SECONDS).')
param trainingPollSeconds int

@description('Log GitHub writes instead of making them (TRIAGE_DRY_RUN).')
param dryRun bool = true

@description('The GitHub App\'s bot login (TRIAGE_BOT_LOGIN).')
param botLogin string

@description('GitHub App id (GITHUB_APP_ID).')
param githubAppId string

@description('GitHub App installation id (GITHUB_APP_INSTALLATION_ID).')
param githubAppInstallationId string

@description('GitHub REST API base URL (GITHUB_API_URL).')
param githubApiUrl string

@description('Azure ML workspace name.')
param amlWorkspaceName string

@description('Azure ML GPU cluster name.')
param amlComputeName string

@description('Azure ML datastore over the `triage` container.')
param amlDatastoreName string

@description('Minutes after which Azure ML cancels a training job (TRIAGE_AML_TIMEOUT_MINUTES).')
param amlTimeoutMinutes int

// Every setting the functions read in Azure (local.settings.example.json lists the local equivalents).
// FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION are not set: Flex takes them from functionAppConfig.runtime.
// They are part of the site itself (siteConfig.appSettings), so the host starts with its identity-based storage.
var appSettings = {
  // Functions host storage (timers, keys, Durable task hub), identity-based.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__tableServiceUri: tableEndpoint
  // The TRIAGE_STORAGE connection of the queue and blob triggers, also read by triage/bootstrap.py.
  TRIAGE_STORAGE__blobServiceUri: blobEndpoint
  TRIAGE_STORAGE__queueServiceUri: queueEndpoint
  TRIAGE_STORAGE__credential: 'managedidentity'
  TRIAGE_STORAGE__clientId: identityClientId
  // Cosmos DB documents (triage/bootstrap.py), identity-based.
  TRIAGE_COSMOS__accountEndpoint: cosmosEndpoint
  TRIAGE_COSMOS__credential: 'managedidentity'
  TRIAGE_COSMOS__clientId: identityClientId
  // DefaultAzureCredential in the app's own SDK calls (Blob, Queue, Cosmos, Azure ML) picks this identity.
  AZURE_CLIENT_ID: identityClientId
  // Telemetry: Entra-authenticated ingestion with the same identity.
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The app.
  TRIAGE_TASK_HUB: taskHub
  TRIAGE_REPOSITORIES: repositories
  TRIAGE_SCRAPE_SCHEDULE: scrapeSchedule
  TRIAGE_TRAIN_SCHEDULE: trainSchedule
  TRIAGE_RETRAIN_AFTER: string(retrainAfter)
  TRIAGE_TRAINING_DEADLINE_MINUTES: string(trainingDeadlineMinutes)
  TRIAGE_TRAINING_POLL_SECONDS: string(trainingPollSeconds)
  TRIAGE_DRY_RUN: dryRun ? 'true' : 'false'
  TRIAGE_BOT_LOGIN: botLogin
  TRIAGE_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${webhookSecretUri})'
  // GitHub App.
  GITHUB_APP_ID: githubAppId
  GITHUB_APP_INSTALLATION_ID: githubAppInstallationId
  GITHUB_API_URL: githubApiUrl
  GITHUB_APP_PRIVATE_KEY: '@Microsoft.KeyVault(SecretUri=${privateKeySecretUri})'
  // Azure ML training (triage/azure_ml.py AzureMLSettings.from_env).
  TRIAGE_AML_SUBSCRIPTION_ID: subscription().subscriptionId
  TRIAGE_AML_RESOURCE_GROUP: resourceGroup().name
  TRIAGE_AML_WORKSPACE: amlWorkspaceName
  TRIAGE_AML_COMPUTE: amlComputeName
  TRIAGE_AML_DATASTORE: amlDatastoreName
  TRIAGE_AML_TIMEOUT_MINUTES: string(amlTimeoutMinutes)
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225:Zone redundancy is region-dependent for Flex Consumption; a single-region labeler can wait out a zone outage.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_222:Public on purpose: GitHub delivers webhooks from the internet; the webhook checks the HMAC signature, other HTTP functions need a function key.
  //checkov:skip=CKV_AZURE_17:Client certificates cannot be required: GitHub's webhook deliveries do not present one.
  //checkov:skip=CKV_AZURE_212:Flex Consumption scales instances per demand (no worker count or always-ready instances, which would bill when idle).
  //checkov:skip=CKV_AZURE_213:App Service health-check eviction does not apply to Flex Consumption; /api/health exists for external probes.
  name: functionAppName
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// Deployments go through Entra ID (azd, az, Core Tools); basic-auth publishing credentials are off.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output functionAppName string = site.name
output defaultHostName string = site.properties.defaultHostName
output url string = 'https://${site.properties.defaultHostName}'
