"""Exit when the process that started us is gone, so test servers never outlive a crashed test process.

Import and call watch_parent() first thing (scripted_http_server.py does), or run another Python program under it:
    python parent_watch.py PROGRAM [ARGS...]      (a Python script)
    python parent_watch.py -m MODULE [ARGS...]    (e.g. -m moto.server -H 127.0.0.1 -p 5000)
which runs it in this interpreter with the watch in place.
"""
import os
import runpy
import sys
import threading
import time


def watch_parent(interval=0.5):
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


if __name__ == "__main__":
    watch_parent()
    if sys.argv[1] == "-m":
        module = sys.argv[2]
        sys.argv = [module] + sys.argv[3:]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        program = sys.argv[1]
        sys.argv = sys.argv[1:]
        runpy.run_path(program, run_name="__main__")
