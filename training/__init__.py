"""Training the lab's zoo models (not part of the runtime package ``lab``, not in the wheel).

Use from a checkout: ``pip install -e ".[train]"`` then ``audiolab train NAME``
(``training/zoo/train.py``). The recipes write the shipped models into ``lab/zoo/<id>/``.
"""
