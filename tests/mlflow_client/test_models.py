"""`mlflow.sklearn.log_model` into `hpo server`, registered, aliased and loaded back by alias."""

import time
import unittest

import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

from test_tracking import hpo


class SklearnModels(unittest.TestCase):
    def test_log_register_and_load_by_alias_predict_the_same(self):
        client = MlflowClient()
        mlflow.set_experiment("sklearn")
        X = np.arange(40, dtype=float).reshape(20, 2)
        y = X @ np.array([1.5, -2.0]) + 0.3
        with mlflow.start_run() as run:
            model = LinearRegression().fit(X, y)
            mlflow.log_param("fit_intercept", True)
            info = mlflow.sklearn.log_model(model, name="model")
        run_id = run.info.run_id
        # the model's files are the run's artifacts under model/
        names = sorted(a.path for a in client.list_artifacts(run_id, "model"))
        self.assertIn("model/MLmodel", names)
        logged = client.get_logged_model(info.model_id)
        self.assertEqual(logged.source_run_id, run_id)
        self.assertEqual(logged.params["fit_intercept"], "True")
        found = client.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string="name = 'model'"
        )
        self.assertEqual([m.model_id for m in found], [info.model_id])

        name = f"sk-{time.time_ns()}"
        version = mlflow.register_model(f"runs:/{run_id}/model", name)
        client.set_registered_model_alias(name, "champion", version.version)
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        np.testing.assert_allclose(loaded.predict(X), model.predict(X))
        by_id = mlflow.pyfunc.load_model(info.model_uri)
        np.testing.assert_allclose(by_id.predict(X), model.predict(X))
        self.assertIn("champion", hpo("models", "show", name))
        self.assertIn("MLmodel", hpo("artifacts", "list", run_id, "model"))


if __name__ == "__main__":
    unittest.main()
