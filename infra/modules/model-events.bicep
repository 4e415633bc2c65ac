// Event Grid subscription: a new models/{owner}/{name}/{version}/manifest.json in the `triage` container
// -> the model_created function (blob trigger with source EventGrid), through the blob extension's webhook.
//
// Deployed only by the postdeploy hook (infra/hooks/postdeploy.*, `az deployment group create`), after every
// `azd deploy`, never by main.bicep. The webhook URL carries the host's `blobs_extension` system key, which exists only
// once the code with the Event Grid blob trigger runs, and listKeys asks the running host for it: inside `azd provision`,
// which re-PUTs the site, a restarting or scaled-to-zero host answers ServiceUnavailable
// (Azure/azure-functions-host#5722). Microsoft's Event Grid blob-trigger azd sample
// (Azure-Samples/functions-quickstart-python-azd-eventgrid-blob, scripts/post-up.sh) likewise creates its subscription
// in a post-deploy script. The hook wakes the host first and retries with backoff, also when Event Grid's validation
// handshake reaches a cold instance. Deploying it again is idempotent (same name, same filter; a rotated key is picked
// up). The key is read here with listKeys and never passes through the command line or azd's environment.

@description('Event Grid system topic of the app storage account.')
param systemTopicName string

@description('Function App name.')
param functionAppName string

@description('Name of the Event Grid blob-triggered function.')
param functionName string = 'model_created'

@description('Blob container the models are written to.')
param containerName string = 'triage'

@description('Event subscription name.')
param subscriptionName string = 'model-created'

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

var blobsExtensionKey = listKeys('${site.id}/host/default', '2024-04-01').systemKeys.blobs_extension

resource modelCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: subscriptionName
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${site.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${blobsExtensionKey}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${containerName}/blobs/models/'
      subjectEndsWith: 'manifest.json'
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output eventSubscriptionName string = modelCreated.name
