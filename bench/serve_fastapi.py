# The Python baseline for bench/serve.ts: a model saved by nodetorch's model.save(dir) (config.json +
# model.safetensors, read here with numpy: the safetensors package is not installed) rebuilt as a
# torch.nn.Sequential and served by FastAPI on one uvicorn worker. POST /predict takes JSON
# {"inputs": [instance, ...]} and answers {"predictions": [[...], ...]}, as examples/serve does.
#
#   /usr/bin/python3 bench/serve_fastapi.py --model DIR --port 8000 [--threads N]
import argparse
import json
import os
import struct
import sys

try:
    import fastapi
    import uvicorn
except ImportError as e:
    print(json.dumps({"error": f"FastAPI or uvicorn is missing ({e}); install them with: "
                               "apt-get install python3-fastapi python3-uvicorn"}), flush=True)
    sys.exit(3)
import numpy as np
import torch
import torch.nn as nn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    """name -> numpy array: an 8-byte little-endian header length, a JSON header, then the raw bytes."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, h in header.items():
        start, end = h["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + start:8 + n + end], dtype=DTYPES[h["dtype"]]).reshape(h["shape"])
    return out


def activation(name):
    return {"relu": nn.ReLU(), "softmax": nn.Softmax(dim=-1), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
            "linear": None, None: None}[name]


def load(model_dir):
    """The Keras-style Sequential of config.json as torch modules (Flatten, Dense, Dropout, Activation)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    mods = []
    for layer in config["config"]["layers"]:
        cls, c = layer["className"], layer["config"]
        if cls == "Flatten":
            mods.append(nn.Flatten())
        elif cls == "Dropout":
            continue  # identity at inference
        elif cls == "Activation":
            mods.append(activation(c["activation"]))
        elif cls == "Dense":
            kernel = weights[f"{c['name']}/kernel"]  # Keras layout [in, out]; torch's Linear weight is [out, in]
            lin = nn.Linear(kernel.shape[0], kernel.shape[1], bias=c.get("useBias", True))
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(kernel.T.copy()))
                if lin.bias is not None:
                    lin.bias.copy_(torch.from_numpy(weights[f"{c['name']}/bias"].copy()))
            mods.append(lin)
            act = activation(c.get("activation"))
            if act is not None:
                mods.append(act)
        else:
            raise SystemExit(f"serve_fastapi.py: layer class {cls} is not supported (Flatten, Dense, Dropout, Activation)")
    return nn.Sequential(*mods).eval(), config["buildConfig"]["inputShape"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, shape = load(args.model)
    size = int(np.prod(shape))
    with torch.inference_mode():
        model(torch.zeros(1, *shape))  # warm-up

    app = FastAPI()

    @app.get("/readyz")
    async def readyz():
        return {"status": "ready"}

    # async def: the forward pass of a small model is shorter than a hop to the thread pool.
    @app.post("/predict")
    async def predict(request: Request):
        body = await request.json()
        try:
            x = torch.tensor(body["inputs"], dtype=torch.float32)
        except (KeyError, TypeError, ValueError) as e:
            raise HTTPException(400, f"expected {{\"inputs\": [instance, ...]}} of numbers: {e}")
        if x.numel() % size or x.numel() == 0:
            raise HTTPException(400, f"expected instances of {size} numbers (shape {shape}) but got {list(x.shape)}")
        with torch.inference_mode():
            y = model(x.reshape(-1, *shape))
        # A Response skips FastAPI's jsonable_encoder, which walks every float.
        return JSONResponse({"predictions": y.tolist()})

    print(json.dumps({"ready": True, "fastapi": fastapi.__version__, "uvicorn": uvicorn.__version__,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
