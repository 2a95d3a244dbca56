"""The unmodified MLflow client against `hpo server`.

Run by tests/mlflow_client.rs, which starts the server and sets MLFLOW_TRACKING_URI (the server),
HPO_BIN (the hpo binary) and HPO_STORE_URI (the server's SQLite store, for hpo's own commands).
"""

import json
import os
import subprocess
import tempfile
import time
import unittest

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

HPO = os.environ["HPO_BIN"]
STORE = os.environ["HPO_STORE_URI"]


def hpo(*args):
    """Runs an hpo command on the server's store; returns its stdout."""
    out = subprocess.run(
        [HPO, "--tracking-uri", STORE, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise AssertionError(f"hpo {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def error_code(exc):
    return exc.error_code if hasattr(exc, "error_code") else None


class TutorialWorkflow(unittest.TestCase):
    """The classic tutorial: an experiment, a run with params, tags, stepped metrics and an
    artifact, nested runs, log_batch, search_runs with a filter and order_by."""

    @classmethod
    def setUpClass(cls):
        mlflow.set_experiment("tutorial")
        cls.client = MlflowClient()
        cls.tmp = tempfile.mkdtemp()
        with mlflow.start_run(run_name="study") as parent:
            mlflow.log_params({"model": "ridge", "folds": 5})
            mlflow.set_tags({"team": "search", "purpose": "tutorial"})
            for step in range(5):
                mlflow.log_metric("train_loss", 1.0 / (step + 1), step=step)
            path = os.path.join(cls.tmp, "notes.txt")
            with open(path, "w") as f:
                f.write("alpha sweep\n")
            mlflow.log_artifact(path)
            mlflow.log_artifact(path, artifact_path="docs/deep")
            cls.children = {}
            for alpha, loss in [(0.1, 0.42), (1.0, 0.17), (10.0, 0.93)]:
                with mlflow.start_run(run_name=f"alpha={alpha}", nested=True) as child:
                    mlflow.log_param("alpha", alpha)
                    mlflow.log_metric("loss", loss)
                    cls.children[alpha] = child.info.run_id
        cls.parent = parent.info.run_id
        cls.experiment_id = parent.info.experiment_id

    def test_run_holds_what_was_logged(self):
        run = self.client.get_run(self.parent)
        self.assertEqual(run.info.status, "FINISHED")
        self.assertEqual(run.info.run_name, "study")
        self.assertEqual(run.data.params, {"model": "ridge", "folds": "5"})
        self.assertEqual(run.data.tags["team"], "search")
        self.assertEqual(run.data.tags["mlflow.runName"], "study")
        # the client's user and script, not the server's
        self.assertEqual(run.data.tags["hpo.user"], run.data.tags["mlflow.user"])
        self.assertEqual(run.info.user_id, run.data.tags["mlflow.user"])
        self.assertEqual(run.data.tags["hpo.source"], run.data.tags["mlflow.source.name"])
        self.assertAlmostEqual(run.data.metrics["train_loss"], 0.2)
        self.assertTrue(run.info.artifact_uri.startswith("mlflow-artifacts:/"))
        self.assertGreater(run.info.end_time, run.info.start_time - 1)

    def test_metric_history_has_every_step(self):
        history = self.client.get_metric_history(self.parent, "train_loss")
        self.assertEqual([m.step for m in history], [0, 1, 2, 3, 4])
        self.assertEqual([round(m.value, 6) for m in history], [1.0, 0.5, 0.333333, 0.25, 0.2])

    def test_nested_runs_name_their_parent(self):
        for run_id in self.children.values():
            run = self.client.get_run(run_id)
            self.assertEqual(run.data.tags["mlflow.parentRunId"], self.parent)
        found = self.client.search_runs(
            [self.experiment_id], f"tags.mlflow.parentRunId = '{self.parent}'"
        )
        self.assertEqual(sorted(r.info.run_id for r in found), sorted(self.children.values()))

    def test_search_with_filter_and_order_finds_the_best(self):
        runs = self.client.search_runs(
            [self.experiment_id], "metrics.loss < 0.5", order_by=["metrics.loss ASC"]
        )
        self.assertEqual([r.info.run_id for r in runs], [self.children[1.0], self.children[0.1]])
        frame = mlflow.search_runs(
            experiment_names=["tutorial"],
            filter_string="params.alpha = '10.0'",
        )
        self.assertEqual(list(frame["run_id"]), [self.children[10.0]])
        self.assertEqual(list(frame["metrics.loss"]), [0.93])

    def test_search_pages(self):
        first = self.client.search_runs([self.experiment_id], "", max_results=2)
        self.assertEqual(len(first), 2)
        self.assertTrue(first.token)
        rest = self.client.search_runs(
            [self.experiment_id], "", max_results=2, page_token=first.token
        )
        ids = {r.info.run_id for r in first} | {r.info.run_id for r in rest}
        self.assertEqual(ids, {self.parent, *self.children.values()})

    def test_artifacts_round_trip(self):
        names = sorted(a.path for a in self.client.list_artifacts(self.parent))
        self.assertEqual(names, ["docs", "notes.txt"])
        deep = self.client.list_artifacts(self.parent, "docs/deep")
        self.assertEqual([(a.path, a.file_size) for a in deep], [("docs/deep/notes.txt", 12)])
        dst = tempfile.mkdtemp()
        local = mlflow.artifacts.download_artifacts(
            run_id=self.parent, artifact_path="notes.txt", dst_path=dst
        )
        with open(local) as f:
            self.assertEqual(f.read(), "alpha sweep\n")
        whole = mlflow.artifacts.download_artifacts(run_id=self.parent, dst_path=tempfile.mkdtemp())
        with open(os.path.join(whole, "docs", "deep", "notes.txt")) as f:
            self.assertEqual(f.read(), "alpha sweep\n")

    def test_hpo_commands_see_the_runs(self):
        listing = json.loads(hpo("runs", "list", "-e", "tutorial", "--json"))
        by_id = {r["info"]["run_id"]: r for r in listing["runs"]}
        self.assertIn(self.parent, by_id)
        for run_id in self.children.values():
            self.assertEqual(by_id[run_id]["info"]["parent_run_id"], self.parent)
        table = hpo("runs", "list", "-e", "tutorial")
        self.assertIn("alpha=1.0", table)
        best = json.loads(hpo("best", "-e", "tutorial", "--json"))
        self.assertEqual(best["info"]["run_id"], self.children[1.0])


class LogBatchAndRunLifecycle(unittest.TestCase):
    def setUp(self):
        self.client = MlflowClient()
        self.exp = self.client.create_experiment(f"batch-{time.time_ns()}")

    def test_log_batch(self):
        run = self.client.create_run(self.exp, run_name="batched")
        now = int(time.time() * 1000)
        self.client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", 0.5 + i / 100, now + i, i) for i in range(50)],
            params=[Param("depth", "3"), Param("lr", "0.01")],
            tags=[RunTag("stage", "dev")],
        )
        # the client splits more than 1000 metrics into several calls
        self.client.log_batch(
            run.info.run_id, metrics=[Metric("big", float(i), now, i) for i in range(1500)]
        )
        self.client.set_terminated(run.info.run_id)
        got = self.client.get_run(run.info.run_id)
        self.assertEqual(got.data.params, {"depth": "3", "lr": "0.01"})
        self.assertEqual(got.data.tags["stage"], "dev")
        self.assertAlmostEqual(got.data.metrics["acc"], 0.99)
        self.assertEqual(len(self.client.get_metric_history(run.info.run_id, "acc")), 50)
        self.assertEqual(len(self.client.get_metric_history(run.info.run_id, "big")), 1500)

    def test_update_delete_restore_and_tags(self):
        run = self.client.create_run(self.exp, tags={"k": "v"})
        run_id = run.info.run_id
        self.client.set_tag(run_id, "mlflow.runName", "renamed")
        self.client.delete_tag(run_id, "k")
        self.client.set_terminated(run_id, status="FAILED")
        got = self.client.get_run(run_id)
        self.assertEqual(got.info.run_name, "renamed")
        self.assertNotIn("k", got.data.tags)
        self.assertEqual(got.info.status, "FAILED")
        self.client.delete_run(run_id)
        self.assertEqual(self.client.get_run(run_id).info.lifecycle_stage, "deleted")
        deleted = self.client.search_runs([self.exp], run_view_type=ViewType.DELETED_ONLY)
        self.assertEqual([r.info.run_id for r in deleted], [run_id])
        self.assertEqual(self.client.search_runs([self.exp]), [])
        self.client.restore_run(run_id)
        self.assertEqual(len(self.client.search_runs([self.exp])), 1)

    def test_log_inputs_is_accepted(self):
        run = self.client.create_run(self.exp)
        ds = Dataset(name="iris", digest="abc123", source_type="local", source="{}")
        self.client.log_inputs(run.info.run_id, datasets=[DatasetInput(ds, tags=[])])
        tags = self.client.get_run(run.info.run_id).data.tags
        self.assertIn("abc123", tags["mlflow.dataset.iris"])


class Experiments(unittest.TestCase):
    def test_experiment_calls(self):
        client = MlflowClient()
        name = f"exp-{time.time_ns()}"
        exp_id = client.create_experiment(name, tags={"owner": "me"})
        self.assertIsInstance(exp_id, str)
        exp = client.get_experiment(exp_id)
        self.assertEqual((exp.name, exp.tags["owner"]), (name, "me"))
        self.assertEqual(client.get_experiment_by_name(name).experiment_id, exp_id)
        client.set_experiment_tag(exp_id, "phase", "2")
        client.rename_experiment(exp_id, name + "-b")
        self.assertEqual(client.get_experiment(exp_id).tags["phase"], "2")
        found = client.search_experiments(filter_string=f"name LIKE '{name}%'")
        self.assertEqual([e.experiment_id for e in found], [exp_id])
        client.delete_experiment(exp_id)
        self.assertEqual(client.get_experiment(exp_id).lifecycle_stage, "deleted")
        deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
        self.assertIn(exp_id, [e.experiment_id for e in deleted])
        client.restore_experiment(exp_id)
        self.assertEqual(client.get_experiment(exp_id).lifecycle_stage, "active")
        self.assertIsNone(client.get_experiment_by_name("no such experiment"))


class BadRequests(unittest.TestCase):
    def setUp(self):
        self.client = MlflowClient()
        self.exp = self.client.create_experiment(f"bad-{time.time_ns()}")
        self.run = self.client.create_run(self.exp).info.run_id
        self.client.log_param(self.run, "lr", "0.1")

    def assertCode(self, code, fn, *args, **kwargs):
        with self.assertRaises(MlflowException) as cm:
            fn(*args, **kwargs)
        self.assertEqual(error_code(cm.exception), code, str(cm.exception))

    def test_errors_carry_mlflow_codes_and_change_nothing(self):
        self.assertCode("RESOURCE_DOES_NOT_EXIST", self.client.get_run, "f" * 32)
        self.assertCode("RESOURCE_DOES_NOT_EXIST", self.client.get_experiment, "987654")
        self.assertCode("INVALID_PARAMETER_VALUE", self.client.log_param, self.run, "lr", "0.2")
        self.assertCode(
            "RESOURCE_ALREADY_EXISTS",
            self.client.create_experiment,
            self.client.get_experiment(self.exp).name,
        )
        self.assertCode(
            "INVALID_PARAMETER_VALUE", self.client.search_runs, [self.exp], "metrics.loss >> 1"
        )
        self.assertCode(
            "INVALID_PARAMETER_VALUE", self.client.search_runs, [self.exp], "metrics.loss OR 1"
        )
        self.assertCode("RESOURCE_DOES_NOT_EXIST", self.client.delete_tag, self.run, "nope")
        run = self.client.get_run(self.run)
        self.assertEqual(run.data.params, {"lr": "0.1"})
        self.assertEqual(run.info.status, "RUNNING")


if __name__ == "__main__":
    unittest.main()


class WrittenByHpo(unittest.TestCase):
    """A study `hpo` recorded itself (tests/mlflow_client.rs makes it) read through the client."""

    def test_the_study_and_its_trials_read_as_mlflow_runs(self):
        client = MlflowClient()
        study_id = os.environ["HPO_STUDY_RUN"]
        exp = client.get_experiment_by_name("hpo-study")
        study = client.get_run(study_id)
        self.assertEqual(study.info.experiment_id, exp.experiment_id)
        self.assertEqual(study.info.status, "FINISHED")
        trials = client.search_runs(
            [exp.experiment_id],
            f"tags.mlflow.parentRunId = '{study_id}'",
            order_by=["metrics.loss ASC"],
        )
        self.assertEqual(len(trials), 6)
        losses = [t.data.metrics["loss"] for t in trials]
        self.assertEqual(losses, sorted(losses))
        for t in trials:
            x = float(t.data.params["x"])
            self.assertAlmostEqual(t.data.metrics["loss"], x * x, places=9)
            self.assertEqual(t.data.tags["mlflow.parentRunId"], study_id)
        best = json.loads(hpo("best", "-e", "hpo-study", "--json"))
        self.assertEqual(best["info"]["run_id"], trials[0].info.run_id)
