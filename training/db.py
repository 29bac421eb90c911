"""The database handle shared by every model (Flask-SQLAlchemy, bound by ``create_app``)."""
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
