# InferScope recorder hook: `inferscope record` puts this directory first on PYTHONPATH so that every Python
# process of the workload loads the sampling agent (recorders/agent.py). It must never break the workload: any
# failure is reported on stderr once and ignored. Afterwards the next sitecustomize on sys.path (the user's or
# the distribution's) is loaded, as if this one did not exist.
import os as _os
import sys as _sys


def _inferscope_agent():
    if _sys.version_info < (3, 8) or not _os.environ.get("INFERSCOPE_RECORD_DIR"):
        return
    import importlib.util

    package_dir = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    name = "_inferscope_recorders"  # private alias: never shadows a user package called `recorders`
    if name not in _sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, _os.path.join(package_dir, "__init__.py"), submodule_search_locations=[package_dir]
        )
        module = importlib.util.module_from_spec(spec)
        _sys.modules[name] = module
        spec.loader.exec_module(module)
    importlib.import_module(name + ".agent").start()


def _chain_next_sitecustomize():
    here = _os.path.dirname(_os.path.abspath(__file__))
    saved_path = list(_sys.path)
    this = _sys.modules.pop("sitecustomize", None)
    try:
        _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != here]
        import importlib

        try:
            importlib.import_module("sitecustomize")
        except ImportError as exc:
            if exc.name != "sitecustomize":
                raise
    finally:
        _sys.path[:] = saved_path
        if this is not None and "sitecustomize" not in _sys.modules:
            _sys.modules["sitecustomize"] = this


try:
    _inferscope_agent()
except Exception as _exc:  # noqa: BLE001 - the workload must run even if sampling cannot
    _sys.stderr.write("inferscope: Python sampling disabled in pid %d: %r\n" % (_os.getpid(), _exc))
_chain_next_sitecustomize()
