"""The MLflow client's model registry calls against `hpo server` (see test_tracking.py)."""

import os
import tempfile
import time
import unittest

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from test_tracking import hpo


def log_model_dir(weights):
    """A run with a `model/` artifact directory (an MLmodel file and weights); returns its id."""
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "MLmodel"), "w") as f:
        f.write("flavors: {}\n")
    with open(os.path.join(d, "weights.txt"), "w") as f:
        f.write(weights)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(d, artifact_path="model")
        mlflow.log_metric("loss", len(weights))
    return run.info.run_id


class Registry(unittest.TestCase):
    def test_register_alias_stage_and_load_by_alias(self):
        client = MlflowClient()
        mlflow.set_experiment("registry")
        name = f"model-{time.time_ns()}"
        first, second = log_model_dir("w=1"), log_model_dir("w=22")
        v1 = mlflow.register_model(f"runs:/{first}/model", name)
        v2 = mlflow.register_model(f"runs:/{second}/model", name)
        self.assertEqual((v1.version, v2.version), ("1", "2"))
        self.assertEqual(v2.run_id, second)
        client.set_registered_model_alias(name, "champion", v2.version)
        self.assertEqual(client.get_model_version_by_alias(name, "champion").version, "2")
        client.transition_model_version_stage(name, "1", "Production")
        client.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
        stages = {v.version: v.current_stage for v in client.search_model_versions(f"name = '{name}'")}
        self.assertEqual(stages, {"1": "Archived", "2": "Production"})
        local = mlflow.artifacts.download_artifacts(f"models:/{name}@champion", dst_path=tempfile.mkdtemp())
        with open(os.path.join(local, "weights.txt")) as f:
            self.assertEqual(f.read(), "w=22")
        model = client.get_registered_model(name)
        self.assertEqual(model.aliases, {"champion": "2"})
        self.assertIn(name, [m.name for m in client.search_registered_models()])
        shown = hpo("models", "show", name)
        self.assertIn("champion", shown)
        self.assertIn("Production", shown)
        # tags, descriptions, rename, delete
        client.set_registered_model_tag(name, "team", "ml")
        client.set_model_version_tag(name, "2", "validated", "yes")
        client.update_registered_model(name, description="the best model")
        client.update_model_version(name, "2", description="v2")
        self.assertEqual(client.get_registered_model(name).tags, {"team": "ml"})
        self.assertEqual(client.get_model_version(name, "2").tags, {"validated": "yes"})
        client.delete_model_version_tag(name, "2", "validated")
        client.delete_registered_model_alias(name, "champion")
        client.rename_registered_model(name, name + "-renamed")
        self.assertEqual(client.get_model_version(name + "-renamed", "2").description, "v2")
        client.delete_model_version(name + "-renamed", "1")
        client.delete_registered_model(name + "-renamed")
        with self.assertRaises(MlflowException) as cm:
            client.get_registered_model(name + "-renamed")
        self.assertEqual(cm.exception.error_code, "RESOURCE_DOES_NOT_EXIST")

    def test_registry_errors(self):
        client = MlflowClient()
        name = f"dup-{time.time_ns()}"
        client.create_registered_model(name)
        with self.assertRaises(MlflowException) as cm:
            client.create_registered_model(name)
        self.assertEqual(cm.exception.error_code, "RESOURCE_ALREADY_EXISTS")
        with self.assertRaises(MlflowException) as cm:
            client.get_model_version(name, "7")
        self.assertEqual(cm.exception.error_code, "RESOURCE_DOES_NOT_EXIST")
        with self.assertRaises(MlflowException) as cm:
            client.get_model_version_by_alias(name, "nope")
        self.assertEqual(cm.exception.error_code, "RESOURCE_DOES_NOT_EXIST")


if __name__ == "__main__":
    unittest.main()
