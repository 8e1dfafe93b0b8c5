/** What `snakepit doctor` asks the chosen Python, as one script printing one JSON object. */

export const PROBE = String.raw`
import json, os, sys, importlib
out = {"python": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable, "modules": {}}
try:
    import snakepit_bridge
    d = os.path.dirname(snakepit_bridge.__file__)
    out["bridge"] = d
    cache = os.path.join(d, "__pycache__")
    out["bytecodeWritable"] = os.access(cache if os.path.isdir(cache) else d, os.W_OK)
    out["dontWriteBytecode"] = bool(sys.dont_write_bytecode)
except Exception as e:
    out["bridgeError"] = "%s: %s" % (type(e).__name__, e)
from importlib import metadata
for name, dist in (("msgpack", "msgpack"), ("numpy", "numpy"), ("pyarrow", "pyarrow"), ("torch", "torch"), ("uv", "uv")):
    try:
        out["modules"][name] = metadata.version(dist)
    except Exception:
        out["modules"][name] = None
if out["modules"]["torch"] and os.environ.get("SNAKEPIT_DOCTOR_TORCH", "1") == "1":
    try:
        import torch
        acc = {"cuda": bool(torch.cuda.is_available()), "devices": []}
        if acc["cuda"]:
            acc["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        mps = getattr(torch.backends, "mps", None)
        acc["mps"] = bool(mps is not None and mps.is_available())
        out["torch"] = acc
    except Exception as e:
        out["torch"] = {"error": "%s: %s" % (type(e).__name__, e)}
print(json.dumps(out))
`;
