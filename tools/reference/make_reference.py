"""Independent reference logits for a DeepSeek-V4 checkpoint in the official layout.

Dequantises every weight exactly (FP8 E4M3 x E8M0 128x128 blocks, packed FP4 E2M1 x per-32 E8M0, BF16),
loads the result in float64 into transformers' DeepseekV4ForCausalLM through its own official-name key
mapping (eager attention), and writes expected.safetensors with input_ids and logits for an unbounded
index top-k, the same way ../shared/golden was made. Runs where PyTorch + transformers >= 5.17 exist
(the device machine): python make_reference.py CKPT_DIR OUT_FILE [N_TOKENS] [SEED]
"""
import json, os, struct, sys, tempfile

import numpy as np
import torch
from safetensors.torch import save_file


def lut_e4m3():
    out = np.zeros(256)
    for b in range(256):
        s, e, m = b >> 7, (b >> 3) & 15, b & 7
        v = np.nan if (e == 15 and m == 7) else (m * 2.0 ** -9 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
        out[b] = -v if s else v
    return out


E4M3 = lut_e4m3()
E2M1 = np.array([0, .5, 1, 1.5, 2, 3, 4, 6, -0., -.5, -1, -1.5, -2, -3, -4, -6])


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items() if k != "__metadata__"}


def e8m0(raw, shape):
    return np.exp2(np.frombuffer(raw, np.uint8).astype(np.float64).reshape(shape) - 127)


def dequantise(tensors):
    out = {}
    for name, (dt, shape, raw) in tensors.items():
        if name.endswith(".scale"):
            continue
        if dt == "F32":
            a = np.frombuffer(raw, "<f4").reshape(shape).astype(np.float64)
        elif dt == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape).astype(np.float64)
        elif dt == "I64":
            out[name] = torch.from_numpy(np.frombuffer(raw, "<i8").reshape(shape).copy())
            continue
        elif dt == "F8_E4M3":
            sdt, sshape, sraw = tensors[name[:-len("weight")] + "scale"]
            s = e8m0(sraw, sshape) if sdt == "F8_E8M0" else np.frombuffer(sraw, "<f4").reshape(sshape).astype(np.float64)
            rows, cols = shape
            a = E4M3[np.frombuffer(raw, np.uint8).reshape(shape)] * np.repeat(np.repeat(s, 128, 0), 128, 1)[:rows, :cols]
        elif dt == "I8":
            sdt, sshape, sraw = tensors[name[:-len("weight")] + "scale"]
            b = np.frombuffer(raw, np.uint8).reshape(shape)
            codes = np.empty((shape[0], shape[1] * 2), np.uint8)
            codes[:, 0::2], codes[:, 1::2] = b & 15, b >> 4       # low nibble = even column
            a = E2M1[codes] * np.repeat(e8m0(sraw, sshape), 32, 1)
        else:
            raise SystemExit(f"{name}: unsupported dtype {dt}")
        out[name] = torch.from_numpy(np.ascontiguousarray(a))
    return out


def main():
    ckpt, out_file = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    from transformers import DeepseekV4ForCausalLM
    import transformers
    config = json.load(open(os.path.join(ckpt, "config.json")))
    tensors = {}
    index = os.path.join(ckpt, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    for f in files:
        tensors.update(read_safetensors(os.path.join(ckpt, f)))
    weights = dequantise(tensors)
    config.pop("quantization_config", None)
    config.pop("expert_dtype", None)
    config["index_topk"] = 1 << 20          # unbounded: transformers is causal only then (ARCHITECTURE §11)
    config["torch_dtype"] = "float64"
    with tempfile.TemporaryDirectory() as tmp:
        json.dump(config, open(os.path.join(tmp, "config.json"), "w"))
        save_file(weights, os.path.join(tmp, "model.safetensors"))
        kwargs = dict(dtype=torch.float64, attn_implementation="eager", output_loading_info=True)
        try:
            model, info = DeepseekV4ForCausalLM.from_pretrained(tmp, experts_implementation="eager", **kwargs)
        except TypeError:
            model, info = DeepseekV4ForCausalLM.from_pretrained(tmp, **kwargs)
    missing = [k for k in info.get("missing_keys", []) if "rotary" not in k]
    print("transformers", transformers.__version__, "missing:", missing, "unexpected:", info.get("unexpected_keys"),
          "mismatched:", info.get("mismatched_keys"))
    if missing or info.get("mismatched_keys"):
        raise SystemExit("checkpoint did not load completely")
    model = model.double().eval().to("cuda" if torch.cuda.is_available() else "cpu")
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, config["vocab_size"], (n,), generator=g)
    with torch.no_grad():
        logits = model(input_ids=ids[None].to(model.device), use_cache=False).logits[0].float().cpu()
    save_file({"input_ids": ids.to(torch.int64), "logits": logits.contiguous()}, out_file,
              metadata={"reference": f"transformers DeepseekV4ForCausalLM {transformers.__version__}, float64, eager attention",
                        "logits_index_topk": "unbounded (every causally visible entry)"})
    print(out_file, "logits", tuple(logits.shape), "max |logit|", float(logits.abs().max()))


if __name__ == "__main__":
    main()
