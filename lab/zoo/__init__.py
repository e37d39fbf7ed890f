"""The offline model zoo: small real models the lab trains on speech it synthesizes, and ships.

``lab/zoo/<id>/`` holds each shipped model (HF format, or the trained part plus a recipe that the
resolver builds into a full HF directory); ``lab.zoo.data`` makes the training speech;
``lab.zoo.train`` is the training entry point (``audiolab train NAME``).
"""
