"""gunicorn's entry point: `gunicorn wsgi:app` from this directory."""
import predictor

app = predictor.app
