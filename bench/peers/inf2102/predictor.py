"""The INF2102 pulsar container's inference app, rebuilt for the benchmark: Flask behind gunicorn.

The shape of the classic scikit-learn "bring your own container" predictor: a service object that
loads the pickled model once per worker, GET /ping answers 200 when the model loads, and
POST /invocations takes a CSV body (one row of features per line, no header), predicts, and answers
CSV (one predicted label per line). pandas is not used: the body is parsed with NumPy instead.
"""
import io
import os
import pickle

import flask
import numpy as np

MODEL_DIR = os.environ.get("MODEL_PATH", "/opt/ml/model")

app = flask.Flask(__name__)


class ScoringService:
    model = None

    @classmethod
    def get_model(cls):
        if cls.model is None:
            with open(os.path.join(MODEL_DIR, "model.pkl"), "rb") as f:
                cls.model = pickle.load(f)
        return cls.model

    @classmethod
    def predict(cls, rows):
        return cls.get_model().predict(rows)


@app.route("/ping", methods=["GET"])
def ping():
    healthy = ScoringService.get_model() is not None
    return flask.Response(response="\n", status=200 if healthy else 404, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def invocations():
    if flask.request.content_type != "text/csv":
        return flask.Response(response="This predictor only supports CSV data", status=415,
                              mimetype="text/plain")
    body = flask.request.data.decode("utf-8")
    rows = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float32, ndmin=2)
    predictions = ScoringService.predict(rows)
    out = io.StringIO()
    np.savetxt(out, predictions.reshape(-1, 1), fmt="%g")
    return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")
