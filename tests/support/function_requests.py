"""Deployment requests of `nozama functions deploy` that must be refused, with the
error code and a piece of the message a user sees: tried in-process on the workflow
(tests/unit) and over HTTP on a live server (tests/integration)."""

BAD_DEPLOYMENT_REQUESTS = [
    ({"functionName": "nope"}, "ResourceNotFoundException", "Function not found"),
    ({"aliasName": "nope"}, "ResourceNotFoundException", "Cannot find alias"),
    ({"newVersion": "9"}, "ResourceNotFoundException", "Function not found"),
    ({"newVersion": "1"}, "InvalidParameterValueException", "already points at version 1"),
    ({"newVersion": "$LATEST"}, "InvalidParameterValueException", "published version"),
    ({"type": "blue-green"}, "InvalidParameterValueException", "Unknown deployment type"),
    ({"steps": 0}, "InvalidParameterValueException", "1 to 100 steps"),
    ({"interval": "soon"}, "InvalidParameterValueException", "must be a number"),
    ({"deploymentConfig": "LambdaFast", "type": None}, "InvalidParameterValueException",
     "Unknown deployment configuration"),
    ({"deploymentConfig": "LambdaAllAtOnce"}, "InvalidParameterValueException", "not both"),
    ({"alarms": ["missing"]}, "ResourceNotFoundException", "Alarm missing does not exist"),
    ({"interval": 0}, "InvalidParameterValueException", "--no-health-checks"),
    ({"type": "all-at-once"}, "InvalidParameterValueException", "--interval SECONDS"),
    ({"preTrafficHook": "missing"}, "ResourceNotFoundException", "Function not found"),
]
