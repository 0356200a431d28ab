"""django-simple-history's HistoricalRecords, with the history manager's class built once per model.

simple_history's descriptor builds a new manager class (Manager.from_queryset, a type() call) on every access
to `Model.history`, and every save of a tracked model reaches it: about 0.1 ms per save, and a class left for the
garbage collector each time. The class depends only on the manager and queryset classes, so it is built once.
"""

import functools

from simple_history import manager, models


class HistoryManager(manager.HistoryManager):
    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class, class_name=None):
        return super().from_queryset(queryset_class, class_name)


class HistoricalRecords(models.HistoricalRecords):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("history_manager", HistoryManager)
        super().__init__(*args, **kwargs)
