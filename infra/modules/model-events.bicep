// Event Grid subscription: a new models/{owner}/{name}/{version}/manifest.json in the `triage` container
// -> the model_created function (blob trigger with source EventGrid), through the blob extension's webhook.
//
// Ordering: the webhook URL carries the host's `blobs_extension` system key, which the Functions host creates
// only once the code with the Event Grid blob trigger has been deployed and the host has started. So this module
// cannot be part of the first `azd provision`. The azd postdeploy hook (infra/hooks/postdeploy.*) waits for the key,
// deploys this file with `az deployment group create`, then sets ENABLE_MODEL_EVENTS=true so that later
// `azd provision` runs (main.bicep, enableModelEvents) keep the subscription in place. The key is read with
// listKeys at deployment time and never passes through the command line or azd's environment.

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
