"""The Bicep templates in infra/ parse, wire together, and say what the app needs and nothing broader.

There is no Bicep compiler here: every template is parsed with pycep-parser (pinned in
pyproject.toml's infra extra) and the checks walk the parsed templates. What the app needs is read from
the app itself: the functions' bindings, local.settings.example.json, triage/adapters/azure/ml_settings.py and the
container/database names in triage/.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

from tests.conftest import app_functions
from triage.adapters.azure.cosmos import INDEXING_POLICY
from triage.adapters.azure.ml_settings import _REQUIRED as AML_REQUIRED
from triage.app.settings import DASHBOARD_MODES as DASHBOARD_AUTH_MODES
from triage.ports.stores import ORDERED_FIELDS

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BICEP_FILES = sorted(p.relative_to(INFRA).as_posix() for p in INFRA.rglob("*.bicep"))

# Every Azure RBAC role the templates may assign, with why. Nothing at resource-group or subscription scope.
ALLOWED_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",  # app: host storage + Flex deployment storage
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",  # app: label-requests, Durable queues
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",  # app: Durable task hub tables
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",  # ML storage; training: `triage` container
    "f6c7c914-8db3-469d-8ca1-694a8f32e121": "AzureML Data Scientist",  # app: submit, poll, cancel jobs
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",  # training: pull the environment image
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",  # app: resolve its Key Vault references
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",  # the maintainer (not the app): set them
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",  # app: Entra-authenticated telemetry
}
# Cosmos DB data-plane role (sqlRoleDefinitions), not an Azure RBAC role.
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"
# Every assignment: (template, principal parameter, role, type of the one resource it is scoped to). The training
# identity runs third-party training code: it gets blob data (its workspace storage, the `triage` container
# only) and the image, nothing of the app's secrets, documents or host storage.
EXPECTED_ASSIGNMENTS = {
    ("modules/storage.bicep", "appPrincipalId", "Storage Blob Data Owner", "Microsoft.Storage/storageAccounts"),
    ("modules/storage.bicep", "appPrincipalId", "Storage Queue Data Contributor", "Microsoft.Storage/storageAccounts"),
    ("modules/storage.bicep", "appPrincipalId", "Storage Table Data Contributor", "Microsoft.Storage/storageAccounts"),
    ("modules/monitoring.bicep", "appPrincipalId", "Monitoring Metrics Publisher", "Microsoft.Insights/components"),
    ("modules/keyvault.bicep", "appPrincipalId", "Key Vault Secrets User", "Microsoft.KeyVault/vaults"),
    ("modules/keyvault.bicep", "secretsOfficerPrincipalId", "Key Vault Secrets Officer", "Microsoft.KeyVault/vaults"),
    ("modules/ml.bicep", "appPrincipalId", "AzureML Data Scientist", "Microsoft.MachineLearningServices/workspaces"),
    ("modules/ml.bicep", "appPrincipalId", "Storage Blob Data Contributor", "Microsoft.Storage/storageAccounts"),
    ("modules/ml.bicep", "trainingPrincipalId", "Storage Blob Data Contributor", "Microsoft.Storage/storageAccounts"),
    ("modules/ml.bicep", "trainingPrincipalId", "Storage Blob Data Contributor",
     "Microsoft.Storage/storageAccounts/blobServices/containers"),
    # Only when images are built (useContainerRegistry): the registry and its AcrPull live in their own module.
    ("modules/ml-registry.bicep", "trainingPrincipalId", "AcrPull", "Microsoft.ContainerRegistry/registries"),
}

# local.settings.example.json settings that Azure replaces, and by what (None: nothing to set in Azure).
REPLACED_IN_AZURE: dict[str, tuple[str, ...] | None] = {
    "FUNCTIONS_WORKER_RUNTIME": None,  # Flex Consumption: functionAppConfig.runtime.name (checked below)
    "AzureWebJobsStorage": ("AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
                            "AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__queueServiceUri",
                            "AzureWebJobsStorage__tableServiceUri"),
    "TRIAGE_STORAGE": ("TRIAGE_STORAGE__blobServiceUri", "TRIAGE_STORAGE__queueServiceUri",
                       "TRIAGE_STORAGE__credential", "TRIAGE_STORAGE__clientId"),
    "TRIAGE_COSMOS": ("TRIAGE_COSMOS__accountEndpoint", "TRIAGE_COSMOS__credential", "TRIAGE_COSMOS__clientId"),
    "TRIAGE_COSMOS_ENDPOINT_DISCOVERY": None,  # emulators only; Azure uses the default (discovery on)
    "GITHUB_APP_PRIVATE_KEY_PATH": ("GITHUB_APP_PRIVATE_KEY",),  # a Key Vault reference instead of a file
    "TRIAGE_DASHBOARD_TOKEN": None,  # token mode only; Azure signs maintainers in with Entra ID (easyauth)
}
KEY_VAULT_REFERENCES = ("GITHUB_APP_PRIVATE_KEY", "TRIAGE_WEBHOOK_SECRET", "TRIAGE_DASHBOARD_SECRET")
# What would put a secret into an app setting.
SECRET_PATTERN = re.compile(r"AccountKey=|SharedAccessKey|SharedAccessSignature|DefaultEndpointsProtocol|sig=|"
                            r"list_func|listKeys|listConnectionStrings|listAccountSas|listServiceSas|primaryKey|"
                            r"primaryMasterKey|InstrumentationKey=", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------------------------
# Parsing and walking
# ---------------------------------------------------------------------------------------------------------------

@functools.cache
def template(name: str) -> dict[str, Any]:
    """The parsed template infra/<name> (parsed once per test run)."""
    return BicepParser().parse(file_path=INFRA / name)


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's or module's own configuration, under a loop (`for`) or a condition (`if`) if it has one."""
    config = resource["config"]
    if "loop_type" in config or "condition" in config:
        return config["config"]
    return config


def resources(file: str, type_: str | None = None, existing: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """(symbol, resource) of one template's resources, optionally of one type; declared ones only by default."""
    for symbol, resource in template(file)["resources"].items():
        if (type_ is None or resource["type"] == type_) and (existing or not resource["existing"]):
            yield symbol, resource


def all_resources(type_: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(file, symbol, resource) of every declared resource of a type, in every template."""
    for file in BICEP_FILES:
        for symbol, resource in resources(file, type_):
            yield file, symbol, resource


def one(file: str, type_: str) -> dict[str, Any]:
    """The body of the only declared resource of a type in a template."""
    found = list(resources(file, type_))
    assert len(found) == 1, f"{file}: expected one {type_}, found {[s for s, _ in found]}"
    return body(found[0][1])


def param_default(file: str, name: str) -> Any:
    """The default value of a template parameter."""
    parameter = template(file)["parameters"][name]
    assert parameter["default"] is not None, f"{file}: parameter {name} has no default"
    return parameter["default"]


def required_params(file: str) -> set[str]:
    """Parameters without a default (pycep gives them a null default)."""
    return {name for name, p in template(file).get("parameters", {}).items() if p["default"] is None}


def test_cosmos_indexing_policy_is_the_one_the_adapter_queries_need() -> None:
    """The composite indexes behind every "newest first" query and the excluded text paths, as the adapter declares
    them for the containers it creates (the emulator) and the queries of ``newest`` need (Cosmos DB refuses an
    ORDER BY on two paths without a composite index)."""
    file = "modules/cosmos.bicep"
    loop = next(resources(file, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers"))[1]["config"]
    policy = resolve(file, loop["config"]["properties"]["resource"]["indexingPolicy"])
    assert json.loads(json.dumps(policy)) == INDEXING_POLICY
    assert {group[0]["path"].lstrip("/") for group in INDEXING_POLICY["compositeIndexes"]} == set(ORDERED_FIELDS)


def text(expression: Any) -> str:
    """A parsed expression written back as Bicep-like text: `storage.id`, `subscription().subscriptionId`."""
    if isinstance(expression, dict) and "operator" in expression:
        operator = expression["operator"]
        if operator["type"] == "property_accessor":
            return f"{text(operator['operands']['operand_1'])}.{text(operator['operands']['operand_2'])}"
    if isinstance(expression, dict) and "function" in expression:
        function = expression["function"]
        arguments = ", ".join(text(a) for a in function["parameters"].values() if a is not None)
        return f"{function['type']}({arguments})"
    return expression if isinstance(expression, str) else json.dumps(expression)


def resolve(file: str, expression: Any) -> Any:
    """Resolve a variable or parameter name, or `variable.key`, to its literal value in one template.

    pycep renders an identifier as its bare name; a literal that happens to equal a variable's or a
    parameter's name would be resolved too, which the names used here rule out.
    """
    tpl = template(file)
    if isinstance(expression, str):
        if expression in tpl.get("variables", {}):
            return resolve(file, tpl["variables"][expression]["value"])
        if expression in tpl.get("parameters", {}) and tpl["parameters"][expression]["default"] is not None:
            return resolve(file, tpl["parameters"][expression]["default"])
        return expression
    if isinstance(expression, dict) and "operator" in expression:
        operator = expression["operator"]
        if operator["type"] == "property_accessor":
            container = resolve(file, operator["operands"]["operand_1"])
            key = operator["operands"]["operand_2"]
            if isinstance(container, dict) and isinstance(key, str) and key in container:
                return resolve(file, container[key])
    return expression


def role_definition_guid(file: str, role_definition_id: Any) -> str:
    """The GUID of `subscriptionResourceId('Microsoft.Authorization/roleDefinitions', <guid>)`."""
    function = role_definition_id["function"]
    assert function["type"] == "subscription_resource_id", f"{file}: use subscriptionResourceId(...) for roles"
    assert function["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    guid = resolve(file, function["parameters"]["resource_name_1"])
    assert isinstance(guid, str), f"{file}: role definition {role_definition_id} does not resolve to a literal GUID"
    return guid


def app_settings() -> dict[str, Any]:
    """The Function App's settings: the variable that siteConfig.appSettings is built from."""
    site = one("modules/functionapp.bicep", "Microsoft.Web/sites")
    settings = site["properties"]["siteConfig"]["appSettings"]
    loop = settings["loop_type"]["detail"]["array_name"]["function"]
    assert loop["type"] == "items", "siteConfig.appSettings must be built with items(<settings object>)"
    variable = loop["parameters"]["arg_1"]
    return template("modules/functionapp.bicep")["variables"][variable]["value"]


def module_outputs_used(node: Any, module: str) -> Iterator[str]:
    """Names X of every `<module>.outputs.X` in a parsed expression tree."""
    if isinstance(node, dict):
        operator = node.get("operator")
        if isinstance(operator, dict) and operator.get("type") == "property_accessor":
            first, second = operator["operands"]["operand_1"], operator["operands"]["operand_2"]
            if first == module and isinstance(second, dict) and "operator" in second:
                inner = second["operator"]["operands"]
                if inner["operand_1"] == "outputs":
                    name = inner["operand_2"]
                    yield name if isinstance(name, str) else name["operator"]["operands"]["operand_1"]
        for value in node.values():
            yield from module_outputs_used(value, module)
    elif isinstance(node, list):
        for value in node:
            yield from module_outputs_used(value, module)
    elif isinstance(node, str):
        yield from re.findall(rf"\$\{{{module}\.outputs\.(\w+)", node)


def bindings() -> list[dict[str, Any]]:
    """Every binding of every registered function, with the function's name."""
    found = []
    for name, function in app_functions().items():
        for binding in json.loads(function.get_function_json())["bindings"]:
            found.append({"function": name, **binding})
    return found


def string_constants(module: str) -> dict[str, str]:
    """Module-level NAME = "literal" assignments of a triage/ module (read, not imported)."""
    tree = ast.parse((ROOT / "triage" / f"{module}.py").read_text(encoding="utf-8"))
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)}


# ---------------------------------------------------------------------------------------------------------------
# Parsing and wiring (what `bicep build` would catch)
# ---------------------------------------------------------------------------------------------------------------

def test_the_templates_are_all_found() -> None:
    assert "main.bicep" in BICEP_FILES
    assert {"modules/functionapp.bicep", "modules/storage.bicep", "modules/cosmos.bicep", "modules/keyvault.bicep",
            "modules/ml.bicep", "modules/monitoring.bicep", "modules/model-events.bicep",
            "modules/budget.bicep", "modules/identity.bicep", "modules/functionapp-auth.bicep"} <= set(BICEP_FILES)


@pytest.mark.parametrize("file", BICEP_FILES)
def test_every_bicep_file_parses(file: str) -> None:
    parsed = template(file)
    assert parsed.get("resources") or parsed.get("modules"), f"{file} declares nothing"


def test_main_wires_every_module() -> None:
    main = template("main.bicep")
    assert main["globals"]["scope"]["value"] == "subscription"
    for symbol, module in main["modules"].items():
        path = module["detail"]["path"]
        assert (INFRA / path).is_file(), f"module {symbol}: {path} does not exist"
        target = template(path)
        given = body(module)["params"]
        declared = target.get("parameters", {})
        assert set(given) <= set(declared), f"module {symbol} gets unknown params {set(given) - set(declared)}"
        required = required_params(path)
        assert required, f"{path}: every parameter has a default?"
        assert required <= set(given), f"module {symbol} misses required params {required - set(given)}"
    for symbol in main["modules"]:
        outputs = template(main["modules"][symbol]["detail"]["path"]).get("outputs", {})
        used = set(module_outputs_used(main, symbol))
        assert used <= set(outputs), f"main.bicep reads outputs {used - set(outputs)} that {symbol} does not have"


def test_azd_parameters_match_main() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    declared = template("main.bicep")["parameters"]
    assert set(parameters) <= set(declared), f"unknown parameters {set(parameters) - set(declared)}"
    required = required_params("main.bicep")
    assert {"environmentName", "location", "githubAppId"} <= required
    assert required <= set(parameters), f"azd cannot supply {required - set(parameters)}"
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["location"]["value"] == "${AZURE_LOCATION}"


def test_azure_yaml_deploys_the_function_app() -> None:
    project = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert project["infra"]["path"] == "infra" and project["infra"]["module"] == "main"
    api = project["services"]["api"]
    assert (api["project"], api["language"], api["host"]) == (".", "python", "function")
    site = next(resources("modules/functionapp.bicep", "Microsoft.Web/sites"))[1]
    assert param_default("modules/functionapp.bicep", "serviceName") == "api"
    assert "'azd-service-name'" in json.dumps(body(site)["tags"])
    for hook in project["hooks"].values():
        for platform in hook.values():
            assert (ROOT / platform["run"]).is_file(), f"hook script {platform['run']} does not exist"


def test_the_hooks_get_what_they_read() -> None:
    outputs = set(template("main.bicep")["outputs"])
    # Set by azd itself, by the maintainer (`azd env set`), or a seam of the tests: not outputs of main.bicep.
    not_outputs = {"AZURE_ENV_NAME", "AZURE_PRINCIPAL_ID"}
    for script in sorted(p.name for p in (INFRA / "hooks").iterdir() if p.suffix in (".sh", ".ps1")):
        source = (INFRA / "hooks" / script).read_text(encoding="utf-8")
        read = set(re.findall(r"\b(AZURE_[A-Z_]+)\b", source)) - not_outputs
        assert read <= outputs, f"{script} reads {read - outputs}, which main.bicep does not output"
    events = template("modules/model-events.bicep")["parameters"]
    required = required_params("modules/model-events.bicep")
    for script in ("postdeploy.sh", "postdeploy.ps1"):
        source = (INFRA / "hooks" / script).read_text(encoding="utf-8")
        arguments = source.split("--parameters", 1)[1].split("--output")[0]
        passed = set(re.findall(r"\b(\w+)=[\"']?\$", arguments))
        assert required <= passed <= set(events), f"{script} passes {passed} to model-events.bicep"
        assert "modules/model-events.bicep" in source and "ENABLE_MODEL_EVENTS" not in source


def test_the_postprovision_hook_creates_the_dashboard_secret_only_if_absent() -> None:
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))["hooks"]["postprovision"]
    assert {hooks["posix"]["run"], hooks["windows"]["run"]} == {"./infra/hooks/postprovision.sh",
                                                                "./infra/hooks/postprovision.ps1"}
    outputs = template("main.bicep")["outputs"]
    assert text(outputs["AZURE_KEY_VAULT_DASHBOARD_SECRET"]["value"]) == "keyVault.outputs.dashboardSecretName"
    for script in ("postprovision.sh", "postprovision.ps1"):
        source = (INFRA / "hooks" / script).read_text(encoding="utf-8")
        read = set(re.findall(r"\b(AZURE_[A-Z_]+)\b", source)) - {"AZURE_PRINCIPAL_ID"}  # azd's, named in a message
        assert "AZURE_KEY_VAULT_DASHBOARD_SECRET" in read and read <= set(outputs), f"{script} reads {read}"
        # The value goes through a file, never a command line; it is 32 random bytes.
        assert "--file" in source and "--value" not in source, script
        assert ("-N32 /dev/urandom" if script.endswith(".sh") else "RandomNumberGenerator]::GetBytes(32)") in source
        assert source.index("keyvault secret list") < source.index("keyvault secret set"), script


# A stand-in for the Azure CLI: logs its arguments (and the value of a secret set from a file), answers the listing.
FAKE_AZ = r"""#!/bin/sh
echo "$*" >> "LOG"
case "$1 $2 $3" in
  "keyvault secret list") LISTED ;;
  "keyvault secret set")
    while [ "$#" -gt 0 ]; do [ "$1" = "--file" ] && echo "value=$(cat "$2")" >> "LOG"; shift; done ;;
esac
"""


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
@pytest.mark.parametrize(("listing", "created"), [("0", True), ("1", False), (None, False)])
def test_the_postprovision_hook_runs_idempotently(tmp_path: Path, listing: str | None, created: bool) -> None:
    """Run postprovision.sh against a fake `az`: it sets the secret only when the vault's listing says it is absent,
    and a refused listing (no data role yet) is an error, never a reason to replace the secret."""
    log = tmp_path / "az.log"
    listed = "echo Forbidden >&2; exit 1" if listing is None else f"echo {listing}"
    (tmp_path / "az").write_text(FAKE_AZ.replace("LOG", str(log)).replace("LISTED", listed))
    (tmp_path / "sleep").write_text("#!/bin/sh\n")
    for fake in ("az", "sleep"):
        (tmp_path / fake).chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "AZURE_SUBSCRIPTION_ID": "sub",
           "AZURE_RESOURCE_GROUP": "rg-x", "AZURE_FUNCTION_APP_NAME": "func-x", "AZURE_KEY_VAULT_NAME": "kv-x",
           "AZURE_KEY_VAULT_DASHBOARD_SECRET": "triage-dashboard-secret"}
    result = subprocess.run(["sh", str(INFRA / "hooks" / "postprovision.sh")], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    calls = log.read_text().splitlines()
    assert result.returncode == (1 if listing is None else 0), result.stderr
    sets = [c for c in calls if c.startswith("keyvault secret set")]
    values = [c.removeprefix("value=") for c in calls if c.startswith("value=")]
    if created:
        assert len(sets) == 1 and "--vault-name kv-x --name triage-dashboard-secret --file " in sets[0]
        assert len(values) == 1 and re.fullmatch(r"[0-9a-f]{64}", values[0]), values
        assert values[0] not in result.stdout + result.stderr
        assert any(c.startswith("functionapp restart") for c in calls)  # the app reads the new value now
    else:
        assert not sets and not any(c.startswith("functionapp restart") for c in calls), calls


# ---------------------------------------------------------------------------------------------------------------
# Security properties
# ---------------------------------------------------------------------------------------------------------------

def test_storage_accounts_accept_only_entra_id_over_tls12_https() -> None:
    accounts = list(all_resources("Microsoft.Storage/storageAccounts"))
    assert len(accounts) == 2  # the app's, the Azure ML workspace's
    for file, symbol, resource in accounts:
        properties = body(resource)["properties"]
        assert properties["allowSharedKeyAccess"] is False, f"{file} {symbol}: shared keys"
        assert properties["allowBlobPublicAccess"] is False, f"{file} {symbol}: public blobs"
        assert properties["minimumTlsVersion"] == "TLS1_2", f"{file} {symbol}: TLS"
        assert properties["supportsHttpsTrafficOnly"] is True, f"{file} {symbol}: http allowed"
        assert properties["defaultToOAuthAuthentication"] is True
    for file, symbol, resource in all_resources("Microsoft.Storage/storageAccounts/blobServices/containers"):
        assert body(resource)["properties"]["publicAccess"] == "None", f"{file} {symbol}"


def test_the_app_storage_has_the_container_and_queues_the_code_names() -> None:
    container_type = "Microsoft.Storage/storageAccounts/blobServices/containers"
    containers = {resolve("modules/storage.bicep", body(r)["name"])
                  for _, r in resources("modules/storage.bicep", container_type)}
    assert string_constants("ports/layout")["CONTAINER"] in containers
    assert "deploymentContainerName" in containers  # the Flex deployment container (name from main.bicep)
    queues = next(resources("modules/storage.bicep", "Microsoft.Storage/storageAccounts/queueServices/queues"))[1]
    queue_names = resolve("modules/storage.bicep", queues["config"]["loop_type"]["detail"]["array_name"])
    triggered = {b["queueName"] for b in bindings() if b["type"] == "queueTrigger"}
    assert triggered == {"label-requests", "label-requests-poison"} == set(queue_names)


def test_cosmos_is_serverless_and_entra_only() -> None:
    account = one("modules/cosmos.bicep", "Microsoft.DocumentDB/databaseAccounts")["properties"]
    assert account["disableLocalAuth"] is True
    assert account["disableKeyBasedMetadataWriteAccess"] is True
    assert {"name": "EnableServerless"} in account["capabilities"]
    assert account["minimalTlsVersion"] == "Tls12"


def test_cosmos_declares_every_container_the_code_uses_partitioned_by_repo() -> None:
    file = "modules/cosmos.bicep"
    database = one(file, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases")
    assert resolve(file, database["name"]) == string_constants("ports/layout")["DATABASE"]
    loop = next(resources(file, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers"))[1]["config"]
    declared = set(resolve(file, loop["loop_type"]["detail"]["array_name"]))
    records = string_constants("ports/records")
    used = {records[name] for name in ("ISSUES", "PREDICTIONS", "FEEDBACK", "LOCKS", "MODELS", "RUNS", "CURSORS",
                                       "DELIVERIES", "LABELS", "POISON", "TUNING", "INSTALLATIONS")}
    assert declared == used == {"issues", "predictions", "feedback", "models", "runs", "cursors", "deliveries",
                                "labels", "locks", "poison", "tuning", "installations"}
    partition_key = loop["config"]["properties"]["resource"]["partitionKey"]
    assert [resolve(file, p) for p in partition_key["paths"]] == ["/repo"]
    assert partition_key["kind"] == "Hash"


def test_key_vaults_use_rbac_soft_delete_and_purge_protection() -> None:
    vaults = list(all_resources("Microsoft.KeyVault/vaults"))
    assert len(vaults) == 2  # the app's secrets, the Azure ML workspace's own
    for file, symbol, resource in vaults:
        properties = body(resource)["properties"]
        assert properties["enableRbacAuthorization"] is True, f"{file} {symbol}"
        assert properties["enableSoftDelete"] is True, f"{file} {symbol}"
        assert properties["enablePurgeProtection"] is True, f"{file} {symbol}"
        assert "accessPolicies" not in properties, f"{file} {symbol}"


def test_the_function_app_is_flex_python311_with_only_its_user_assigned_identity() -> None:
    file = "modules/functionapp.bicep"
    plan = one(file, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"} and plan["properties"]["reserved"] is True
    site = one(file, "Microsoft.Web/sites")
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    assert list(site["identity"]["userAssignedIdentities"]) == ["'${identityId}'"]
    properties = site["properties"]
    assert properties["keyVaultReferenceIdentity"] == "identityId"
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] == "1.2"
    assert "ftpsState" not in properties["siteConfig"]  # Flex refuses it (test_deploy_day.py); FTP is off below
    config = properties["functionAppConfig"]
    assert config["runtime"]["name"] == "python"
    assert resolve(file, config["runtime"]["version"]) == "3.11"
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": "identityId"}
    publishing = {body(r)["name"]: body(r)["properties"]["allow"]
                  for _, r in resources(file, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")}
    assert publishing == {"ftp": False, "scm": False}
    # main.bicep hands it the app identity, and the training identity goes to the GPU cluster only.
    params = body(template("main.bicep")["modules"]["functionApp"])["params"]
    assert text(params["identityId"]) == "identity.outputs.appIdentityId"
    assert text(params["identityClientId"]) == "identity.outputs.appClientId"


def test_app_settings_hold_no_secret_and_only_identity_based_connections() -> None:
    settings = app_settings()
    for name, value in settings.items():
        assert not SECRET_PATTERN.search(json.dumps(value)), f"{name} looks like a secret: {value}"
    for plain in ("AzureWebJobsStorage", "TRIAGE_STORAGE", "TRIAGE_COSMOS"):
        assert plain not in settings, f"{plain} would be a connection string"
        assert settings[f"{plain}__credential"] == "managedidentity"
        assert settings[f"{plain}__clientId"] == "identityClientId"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    connection_strings = {name for name in settings if "CONNECTION_STRING" in name.upper()}
    assert connection_strings == {"APPLICATIONINSIGHTS_CONNECTION_STRING"}  # not a credential: see next test
    for name in KEY_VAULT_REFERENCES:
        assert re.fullmatch(r"@Microsoft\.KeyVault\(SecretUri=\$\{\w+\}\)", settings[name]), name
    # No other template hands out keys either: the only list*() call reads the host's blobs_extension key,
    # for the Event Grid webhook URL.
    for file in BICEP_FILES:
        listed = re.findall(r'"func_name": "(list\w*)"', json.dumps(template(file)))
        assert listed == (["listKeys"] if file == "modules/model-events.bicep" else []), f"{file}: {listed}"


def test_telemetry_is_entra_authenticated() -> None:
    file = "modules/monitoring.bicep"
    insights = one(file, "Microsoft.Insights/components")["properties"]
    assert insights["DisableLocalAuth"] is True
    assert text(insights["WorkspaceResourceId"]) == "logAnalytics.id"
    authentication = app_settings()["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    assert authentication == "ClientId=${identityClientId};Authorization=AAD"
    roles = {ALLOWED_ROLES[role_definition_guid(file, body(r)["properties"]["roleDefinitionId"])]
             for _, r in resources(file, "Microsoft.Authorization/roleAssignments")}
    assert roles == {"Monitoring Metrics Publisher"}


def test_every_role_assignment_is_an_allowed_role_on_one_resource() -> None:
    found = set()
    for file, symbol, resource in all_resources("Microsoft.Authorization/roleAssignments"):
        config = body(resource)
        guid = role_definition_guid(file, config["properties"]["roleDefinitionId"])
        assert guid in ALLOWED_ROLES, f"{file} {symbol}: role {guid} is not allowed"
        scope = config.get("scope")
        declared = template(file)["resources"]  # `existing` ones included
        assert isinstance(scope, str) and scope in declared, f"{file} {symbol}: scope must be one resource, not {scope}"
        principal = config["properties"]["principalId"]
        assert principal in template(file)["parameters"], f"{file} {symbol}: principal must be a parameter"
        found.add((file, principal, ALLOWED_ROLES[guid], declared[scope]["type"]))
    unexpected, missing = found - EXPECTED_ASSIGNMENTS, EXPECTED_ASSIGNMENTS - found
    assert not unexpected and not missing, f"unexpected: {unexpected}; missing: {missing}"
    assert {role for _, _, role, _ in found} == set(ALLOWED_ROLES.values())
    assert not list(resources("main.bicep", "Microsoft.Authorization/roleAssignments"))  # nothing at group scope


def test_cosmos_data_role_is_the_built_in_contributor_on_the_account() -> None:
    file = "modules/cosmos.bicep"
    assignment = one(file, "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments")["properties"]
    assert assignment["roleDefinitionId"] == "${account.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}"
    assert resolve(file, "cosmosDataContributorRoleId") == COSMOS_DATA_CONTRIBUTOR
    assert text(assignment["scope"]) == "account.id"  # the account holds only the `triage` database
    assert assignment["principalId"] == "appPrincipalId"


def test_every_role_assignment_says_why() -> None:
    for file in BICEP_FILES:
        lines = (INFRA / file).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if re.match(r"resource \w+ 'Microsoft\.(Authorization/roleAssignments|DocumentDB/databaseAccounts/"
                        r"sqlRoleAssignments)@", line):
                assert lines[number - 1].startswith("// "), f"{file}:{number + 1}: no comment saying why"


# ---------------------------------------------------------------------------------------------------------------
# Azure ML
# ---------------------------------------------------------------------------------------------------------------

def test_gpu_cluster_scales_to_zero_on_low_priority_nodes_by_default() -> None:
    file = "modules/ml.bicep"
    compute = one(file, "Microsoft.MachineLearningServices/workspaces/computes")
    settings = compute["properties"]["properties"]
    assert compute["properties"]["computeType"] == "AmlCompute"
    assert settings["scaleSettings"]["minNodeCount"] == 0
    assert settings["scaleSettings"]["nodeIdleTimeBeforeScaleDown"] == "PT${idleMinutesBeforeScaleDown}M"
    assert resolve(file, settings["vmPriority"]) == "LowPriority"
    assert param_default("main.bicep", "gpuVmPriority") == "LowPriority"
    assert param_default("main.bicep", "gpuVmSize") == "Standard_NC4as_T4_v3"
    assert compute["identity"]["type"] == "UserAssigned"
    assert list(compute["identity"]["userAssignedIdentities"]) == ["'${trainingIdentityId}'"]
    params = body(template("main.bicep")["modules"]["ml"])["params"]
    assert text(params["trainingIdentityId"]) == "identity.outputs.trainingIdentityId"


def test_workspace_and_datastore_are_identity_based() -> None:
    file = "modules/ml.bicep"
    workspace = one(file, "Microsoft.MachineLearningServices/workspaces")
    assert workspace["properties"]["systemDatastoresAuthMode"] == "identity"
    registry = one("modules/ml-registry.bicep", "Microsoft.ContainerRegistry/registries")["properties"]
    assert registry["adminUserEnabled"] is False and registry["anonymousPullEnabled"] is False
    datastore = one(file, "Microsoft.MachineLearningServices/workspaces/datastores")
    assert datastore["properties"]["datastoreType"] == "AzureBlob"
    assert datastore["properties"]["credentials"] == {"credentialsType": "None"}
    assert text(datastore["properties"]["containerName"]) == "dataContainer.name"
    # The datastore main.bicep creates is the one the app is told to use, over the container the app writes.
    main = template("main.bicep")
    assert body(main["modules"]["ml"])["params"]["datastoreName"] == "amlDatastoreName"
    assert resolve("main.bicep", "amlDatastoreName") == "triage"
    assert app_settings()["TRIAGE_AML_DATASTORE"] == "amlDatastoreName"
    assert text(body(main["modules"]["functionApp"])["params"]["amlDatastoreName"]) == "ml.outputs.datastoreName"


# ---------------------------------------------------------------------------------------------------------------
# Event Grid
# ---------------------------------------------------------------------------------------------------------------

def test_event_grid_sends_new_manifests_to_model_created() -> None:
    (trigger,) = [b for b in bindings() if b["type"] == "blobTrigger"]
    assert trigger["source"] == "EventGrid" and trigger["connection"] == "TRIAGE_STORAGE"
    container, path = trigger["path"].split("/", 1)
    assert path.startswith("models/") and path.endswith("/manifest.json")

    file = "modules/model-events.bicep"
    subscription = one(file, "Microsoft.EventGrid/systemTopics/eventSubscriptions")["properties"]
    event_filter = subscription["filter"]
    assert event_filter["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    begins = event_filter["subjectBeginsWith"].replace("${containerName}", param_default(file, "containerName"))
    assert begins == f"/blobServices/default/containers/{container}/blobs/models/"
    assert event_filter["subjectEndsWith"] == "manifest.json"
    endpoint = subscription["destination"]["properties"]["endpointUrl"]
    assert subscription["destination"]["endpointType"] == "WebHook"
    assert endpoint.startswith("https://${site.properties.defaultHostName}/runtime/webhooks/blobs?")
    assert "functionName=Host.Functions.${functionName}&code=${blobsExtensionKey}" in endpoint
    assert param_default(file, "functionName") == trigger["function"]
    assert "systemKeys" in json.dumps(template(file)["variables"]["blobsExtensionKey"])

    topic = one("modules/storage.bicep", "Microsoft.EventGrid/systemTopics")["properties"]
    assert text(topic["source"]) == "storage.id" and topic["topicType"] == "Microsoft.Storage.StorageAccounts"
    # Never in `azd provision` (no system key before the code runs): the postdeploy hook deploys it
    # (test_deploy_day.py); main.bicep outputs the topic it needs.
    assert "modelEvents" not in template("main.bicep")["modules"]
    outputs = template("main.bicep")["outputs"]
    assert text(outputs["AZURE_EVENTGRID_SYSTEM_TOPIC_NAME"]["value"]) == "storage.outputs.systemTopicName"


# ---------------------------------------------------------------------------------------------------------------
# Settings: everything the functions read is set
# ---------------------------------------------------------------------------------------------------------------

def test_every_setting_the_functions_read_is_set() -> None:
    local = json.loads((ROOT / "local.settings.example.json").read_text(encoding="utf-8"))["Values"]
    settings = app_settings()
    assert set(REPLACED_IN_AZURE) <= set(local), "the mapping names a setting local.settings.example.json lacks"
    for name in local:
        replacement = REPLACED_IN_AZURE.get(name, (name,))
        missing = [needed for needed in replacement or () if needed not in settings]
        assert not missing, f"{name}: the Function App does not set {missing}"
    assert local["FUNCTIONS_WORKER_RUNTIME"] == "python"  # Flex: functionAppConfig.runtime.name, checked above
    for name, replacement in REPLACED_IN_AZURE.items():
        assert name not in settings, f"{name} must not be set in Azure (replaced by {replacement})"
    assert "FUNCTIONS_EXTENSION_VERSION" not in settings  # Flex Consumption rejects both runtime settings
    for name in AML_REQUIRED:
        assert name in settings, f"{name} (required by triage/adapters/azure/ml_settings.py) is not set"
    assert settings["TRIAGE_DRY_RUN"] == {"operator": {"type": "conditional", "operands": {
        "condition": "dryRun", "true_value": "true", "false_value": "false"}}}
    assert param_default("main.bicep", "dryRun") is True
    assert param_default("modules/functionapp.bicep", "dryRun") is True


def test_every_binding_expression_and_connection_is_set() -> None:
    settings = app_settings()
    sources = [(ROOT / "host.json").read_text(encoding="utf-8")]
    sources += [json.dumps(b) for b in bindings()]
    referenced = {name for text in sources for name in re.findall(r"%(\w+)%", text)}
    assert {"TRIAGE_TASK_HUB", "TRIAGE_SCRAPE_SCHEDULE", "TRIAGE_TRAIN_SCHEDULE"} <= referenced
    assert referenced <= set(settings), f"binding expressions not set: {referenced - set(settings)}"
    for connection in {b["connection"] for b in bindings() if "connection" in b}:
        for part in ("blobServiceUri", "queueServiceUri", "credential", "clientId"):
            assert f"{connection}__{part}" in settings, f"{connection}__{part}"


# ---------------------------------------------------------------------------------------------------------------
# The maintainer dashboard: App Service Authentication (Easy Auth) with Microsoft Entra ID
# ---------------------------------------------------------------------------------------------------------------

AUTH_FILE = "modules/functionapp-auth.bicep"


def easy_auth() -> dict[str, Any]:
    """The properties of the authsettingsV2 config of the Function App."""
    config = one(AUTH_FILE, "Microsoft.Web/sites/config")
    assert config["name"] == "authsettingsV2" and config["parent"] == "site"
    (site,) = [r for _, r in resources(AUTH_FILE, "Microsoft.Web/sites", existing=True)]
    assert site["existing"] and site["config"]["name"] == "functionAppName"
    return config["properties"]


def excluded(path: str, patterns: list[str]) -> bool:
    """Whether App Service Authentication lets `path` through unauthenticated: equal, or below a `…/*` pattern."""
    return any(path == p or (p.endswith("/*") and path.startswith(p[:-1])) for p in patterns)


def test_the_dashboard_runs_in_easyauth_mode_with_a_key_vault_secret() -> None:
    settings = app_settings()
    assert settings["TRIAGE_DASHBOARD_AUTH"] == "easyauth" and "easyauth" in DASHBOARD_AUTH_MODES
    assert "TRIAGE_DASHBOARD_TOKEN" not in settings  # no shared token in Azure
    assert settings["TRIAGE_DASHBOARD_MAINTAINERS"] == "dashboardMaintainers"
    assert settings["TRIAGE_DASHBOARD_SECRET"] == "@Microsoft.KeyVault(SecretUri=${dashboardSecretUri})"
    for file in ("main.bicep", "modules/functionapp.bicep"):
        assert param_default(file, "dashboardMaintainers") == "" and param_default(file, "dashboardClientId") == ""
    params = body(template("main.bicep")["modules"]["functionApp"])["params"]
    assert text(params["dashboardSecretUri"]) == "keyVault.outputs.dashboardSecretUri"
    assert params["dashboardMaintainers"] == "dashboardMaintainers"
    assert params["dashboardClientId"] == "dashboardClientId"
    azd = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert azd["dashboardMaintainers"]["value"] == "${TRIAGE_DASHBOARD_MAINTAINERS}"
    assert azd["dashboardClientId"]["value"] == "${DASHBOARD_CLIENT_ID}"
    # The secret the reference points at is a third secret of the app's vault, next to the GitHub ones.
    vault = template("modules/keyvault.bicep")
    names = {resolve("modules/keyvault.bicep", n) for n in ("privateKeySecretName", "webhookSecretName",
                                                            "dashboardSecretName")}
    assert names == {"github-app-private-key", "triage-webhook-secret", "triage-dashboard-secret"}
    uri = vault["outputs"]["dashboardSecretUri"]["value"]
    assert uri == "${vault.properties.vaultUri}secrets/${dashboardSecretName}"
    assert vault["outputs"]["dashboardSecretName"]["value"] == "dashboardSecretName"


def test_easy_auth_is_deployed_only_once_the_app_registration_exists() -> None:
    module = template("modules/functionapp.bicep")["modules"]["auth"]
    assert module["detail"]["path"] == "functionapp-auth.bicep"
    assert module["config"]["condition"] == {"operator": {"type": "not", "operands": {"bool_value": {
        "function": {"type": "empty", "parameters": {"item_to_test": "dashboardClientId"}}}}}}
    params = body(module)["params"]
    assert set(params) <= set(template(AUTH_FILE)["parameters"]) and required_params(AUTH_FILE) <= set(params)
    assert params["clientId"] == "dashboardClientId" and text(params["functionAppName"]) == "site.name"
    assert not list(resources("modules/functionapp.bicep", "Microsoft.Web/sites/config"))  # only through the module


def test_easy_auth_requires_an_entra_sign_in_and_redirects_to_it() -> None:
    auth = easy_auth()
    assert auth["platform"]["enabled"] is True  # what sets WEBSITE_AUTH_ENABLED=True, which the code requires
    validation = auth["globalValidation"]
    assert validation["requireAuthentication"] is True
    assert validation["unauthenticatedClientAction"] == "RedirectToLoginPage"
    assert validation["redirectToProvider"] == "azureactivedirectory"
    assert auth["httpSettings"]["requireHttps"] is True
    assert auth["login"]["tokenStore"]["enabled"] is False  # Flex has no shared file system (test_deploy_day.py)
    assert set(auth["identityProviders"]) == {"azureActiveDirectory"}
    entra = auth["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    # Single tenant: this tenant's v2.0 issuer. No client secret: the ID-token (implicit) sign-in.
    assert entra["registration"] == {
        "clientId": "clientId",
        "openIdIssuer": "${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0"}
    assert entra["validation"]["allowedAudiences"] == ["api://${clientId}"]
    assert not any("PROVIDER_AUTHENTICATION_SECRET" in name for name in app_settings())


def test_easy_auth_excludes_every_route_but_the_dashboard() -> None:
    patterns = resolve(AUTH_FILE, easy_auth()["globalValidation"]["excludedPaths"])
    assert isinstance(patterns, list) and all(isinstance(p, str) and p.startswith("/") for p in patterns), patterns
    # `*` only as a trailing `/*` (the one form the App Service team confirmed), and nothing as broad as /api/*.
    assert all("*" not in p.removesuffix("/*") for p in patterns), patterns
    prefix = json.loads((ROOT / "host.json").read_text(encoding="utf-8")).get("extensions", {}).get(
        "http", {}).get("routePrefix", "api")
    routes = {b["function"]: b["route"] for b in bindings() if b["type"] == "httpTrigger"}
    assert {"dashboard", "dashboard_review", "github_webhook", "health", "status"} <= set(routes), routes
    for function, route in routes.items():
        path = f"/{prefix}/" + re.sub(r"\{[^}]+\}", "x", route)
        if route.split("/")[0] == "dashboard":
            assert not excluded(path, patterns), f"{function} ({path}) must require an Entra sign-in"
        else:
            assert excluded(path, patterns), f"{function} ({path}) would be redirected to the Entra sign-in"
    assert excluded("/api/github/webhook", patterns) and excluded("/api/health", patterns)
    # The host's system-key endpoints: Event Grid's deliveries to the blobs extension, Durable status URLs.
    endpoint = one("modules/model-events.bicep", "Microsoft.EventGrid/systemTopics/eventSubscriptions")[
        "properties"]["destination"]["properties"]["endpointUrl"]
    event_grid = "/" + endpoint.split("}/", 1)[1].split("?")[0]
    assert event_grid == "/runtime/webhooks/blobs" and excluded(event_grid, patterns)
    assert excluded("/runtime/webhooks/durabletask/instances/x", patterns)


def test_monthly_budget_alerts_at_80_percent_actual_and_100_percent_forecast() -> None:
    file = "modules/budget.bicep"
    budget = one(file, "Microsoft.Consumption/budgets")["properties"]
    assert budget["category"] == "Cost" and budget["timeGrain"] == "Monthly"
    assert budget["amount"] == "amount" and budget["timePeriod"]["startDate"] == "startDate"
    alerts = {(n["threshold"], n["thresholdType"]) for n in budget["notifications"].values() if n["enabled"]}
    assert alerts == {(80, "Actual"), (100, "Forecasted")}
    for notification in budget["notifications"].values():
        assert notification["contactEmails"] == "recipients"
    # Deployed by the postprovision hook with these parameters (test_deploy_day.py runs it).
    for script in ("budget.sh", "budget.ps1"):
        source = (INFRA / "hooks" / script).read_text(encoding="utf-8")
        passed = set(re.findall(r"\b(\w+)=[\"']?\$", source.split("--parameters", 1)[1].split("--output")[0]))
        assert passed == set(template(file)["parameters"]) == required_params(file), (script, passed)
