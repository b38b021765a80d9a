#!/usr/bin/env python3
"""onnx_check.py — onnx.checker.check_model (full_check: shape inference too) on a model
written by lamac, for tests/check_onnx.c. Usage: onnx_check.py MODEL [--dump]
Fails on an initializer that no node uses. Prints the ir_version, opsets, producer, inputs/outputs and node / initializer counts, so the
caller can check the field numbers decoded as meant; --dump prints every node's op_type,
inputs, outputs and attributes too. Exit status 3 when python3-onnx is not installed."""
import sys

try:
    import onnx
    import onnx.numpy_helper
except ImportError:
    print("onnx_check: python3-onnx is not installed (scripts/setup-deps.sh installs it)")
    sys.exit(3)


def dims(vi):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in vi.type.tensor_type.shape.dim]


def main():
    m = onnx.load(sys.argv[1])
    onnx.checker.check_model(m, full_check=True)
    used = {i for n in m.graph.node for i in n.input}
    unused = [t.name for t in m.graph.initializer if t.name not in used]
    if unused:
        print("onnx_check: initializers no node uses:", " ".join(unused[:10]))
        sys.exit(1)
    print("ir_version", m.ir_version)
    print("producer", m.producer_name)
    print("opset", " ".join(f"{o.domain or '-'}:{o.version}" for o in m.opset_import))
    print("graph", m.graph.name, "nodes", len(m.graph.node), "initializers", len(m.graph.initializer))
    for vi in m.graph.input:
        print("input", vi.name, vi.type.tensor_type.elem_type, dims(vi))
    for vi in m.graph.output:
        print("output", vi.name, vi.type.tensor_type.elem_type, dims(vi))
    if "--dump" in sys.argv:
        for n in m.graph.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            print("node", n.name, n.op_type, list(n.input), list(n.output), attrs)
        for t in m.graph.initializer:
            a = onnx.numpy_helper.to_array(t)
            print("init", t.name, a.dtype, list(a.shape), a.ravel()[:4].tolist())
    print("check ok")


main()
