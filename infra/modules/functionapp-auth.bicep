// App Service Authentication ("Easy Auth") with Microsoft Entra ID on the Function App, for the maintainer dashboard
// (schema: Microsoft.Web sites/config 'authsettingsV2'). functionapp.bicep deploys it once the maintainer has
// registered the app (dashboardClientId; docs/deploy.md step 7). The platform then signs users in, passes
// X-MS-CLIENT-PRINCIPAL-NAME/-ID to the app and sets WEBSITE_AUTH_ENABLED=True, which the app's dashboard
// authentication requires before it trusts those headers; the code admits only TRIAGE_DASHBOARD_MAINTAINERS.
//
// On Flex Consumption, as on Linux Consumption, App Service Authentication runs inside the Functions host
// (JobHostEasyAuthMiddleware, registered for every Linux consumption SKU including Flex), and the host turns it on only
// when WEBSITE_AUTH_ENABLED is true: the host sets that variable from the site's authentication settings when the
// instance is assigned (HostAssignmentContext.ApplyAppSettings) and passes its environment to the Python worker
// (FunctionEnvironmentReloadRequest). So the sign-in and the app's check read the same variable: the dashboard
// redirects to the sign-in (302) exactly when the code will trust the headers. Source: Azure/azure-functions-host,
// src/WebJobs.Script.WebHost (WebScriptHostBuilderExtension.cs, Models/HostAssignmentContext.cs); not documented,
// hence the smoke test (infra/hooks/smoke.sh) checks the 302 after every deployment.

@description('Function App name.')
param functionAppName string

@description('Application (client) id of the Entra app registration (single tenant, web redirect URI https://<app>/.auth/login/aad/callback, ID tokens allowed).')
@minLength(1)
param clientId string

// What stays reachable without an Entra sign-in: every HTTP route but the dashboard's, each authenticated otherwise,
// and the host's system-key endpoints. A trailing `/*` matches everything below a path: the App Service team's
// answer in MicrosoftDocs/azure-docs#86514 (the authsettingsV2 reference documents no pattern syntax).
var excludedPaths = [
  '/api/github/webhook' // GitHub's deliveries, verified by their HMAC signature (X-Hub-Signature-256)
  '/api/health' // anonymous probe; the postdeploy hook wakes the host with it
  '/api/status' // function key
  '/api/scrape/*' // function key: /api/scrape/{owner}/{name}
  '/api/train/*' // function key: /api/train/{owner}/{name}
  '/runtime/webhooks/*' // system keys: Event Grid -> blobs extension (model_created), Durable status URLs
]

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// checkov applies its checks of the site's `web` config to every sites/config resource, hence the suppressions of
// properties that authsettingsV2 does not have (checkov's pycep parses at most nine comment lines in a row).
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  //checkov:skip=CKV_AZURE_13:That check reads the retired V1 schema (properties.enabled); authsettingsV2 is on in properties.platform.enabled (CKV_AZURE_56).
  //checkov:skip=CKV_AZURE_63:Reads httpLoggingEnabled of the `web` config, not an authsettingsV2 property; Functions logs go to Application Insights.
  //checkov:skip=CKV_AZURE_65:Reads detailedErrorLoggingEnabled of the `web` config, not an authsettingsV2 property (an IIS feature Linux lacks).
  //checkov:skip=CKV_AZURE_66:Reads requestTracingEnabled of the `web` config, not an authsettingsV2 property (an IIS feature Linux lacks).
  //checkov:skip=CKV_AZURE_80:Reads netFrameworkVersion of the `web` config, not an authsettingsV2 property; this is a Python app.
  //checkov:skip=CKV_AZURE_88:Reads azureStorageAccounts of the `web` config, not an authsettingsV2 property; Flex Consumption mounts no Azure Files.
  //checkov:skip=CKV_AZURE_222:Reads publicNetworkAccess, a site property (suppressed on the site with its reason), not an authsettingsV2 one.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: excludedPaths
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          // Microsoft documents the issuer as <authentication endpoint>/<tenant id>/v2.0 (the endpoint of this cloud).
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          // No clientSecretSettingName: without a client secret the sign-in uses the OpenID Connect implicit flow,
          // which returns only an ID token (the registration must allow ID tokens); that is all the dashboard
          // needs, and no secret has to be created, stored or rotated.
        }
        validation: {
          // The client id itself is always an allowed audience (the ID tokens of the browser sign-in); api://<client
          // id> is the registration's default Application ID URI, for access tokens requested for this app.
          allowedAudiences: [
            'api://${clientId}'
          ]
        }
      }
    }
    login: {
      // Token store off. On Linux it keeps the provider tokens in the app's shared file system (/home/data/.auth), which
      // Flex Consumption does not have (no content share; the alternative, a blob store, needs a SAS URL in a setting).
      // The app reads only the X-MS-CLIENT-PRINCIPAL-* headers, which the platform injects with or without a token
      // store (learn.microsoft.com/azure/app-service/configure-authentication-user-identities); only the
      // X-MS-TOKEN-AAD-* headers and /.auth/me need it.
      tokenStore: {
        enabled: false
      }
    }
  }
}
