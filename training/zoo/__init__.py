"""The recipes of the offline model zoo: small real models the lab trains on speech it synthesizes.

The trained models ship in ``lab/zoo/<id>/`` (package data: HF format, or the trained part plus a
recipe the resolver builds into a full HF directory, :mod:`lab.ctc.whisper_ctc.build`);
``training.zoo.data`` makes the training speech; ``training.zoo.train`` is the training entry point
(``audiolab train NAME``).
"""
