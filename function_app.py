"""The Azure Functions app: creates the app and registers one blueprint per concern. Nothing else."""

import azure.durable_functions as df
import azure.functions as func

from functions import BLUEPRINTS

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
