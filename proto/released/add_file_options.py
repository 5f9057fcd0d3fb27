#!/usr/bin/env python3
"""add_file_options.py - copies the per-language file options (go_package, java_*, csharp_namespace, php_namespace)
of the working tree's protos into the released v1 baseline, and nothing else.

Run once for issue #21 (2026-12-06), before v1 was released to anyone: the baseline's files had no such options,
and buf breaking's FILE rules (FILE_SAME_GO_PACKAGE, FILE_SAME_JAVA_PACKAGE, ...) count setting one as a change.
From now on these options are part of the baseline, so changing one (which breaks generated code) fails
contract_buf_breaking. Every other byte of each file's descriptor is left as it was (checked below).

    tools/buf/node_modules/.bin/buf build proto --exclude-source-info -o /tmp/cur.binpb
    /usr/bin/python3 proto/released/add_file_options.py proto/released/ltc-v1.binpb /tmp/cur.binpb
"""
import sys

from google.protobuf import descriptor_pb2

OPTIONS = ("go_package", "java_package", "java_multiple_files", "java_outer_classname", "csharp_namespace",
           "php_namespace")


def load(path):
    fs = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fs.ParseFromString(f.read())
    return fs


def main():
    released_path, current_path = sys.argv[1:3]
    released, current = load(released_path), load(current_path)
    cur = {f.name: f for f in current.file}
    n = 0
    for f in released.file:
        if not f.package.startswith("ltc.") or f.name not in cur:
            continue
        before = descriptor_pb2.FileDescriptorProto()
        before.CopyFrom(f)
        for opt in OPTIONS:
            if cur[f.name].options.HasField(opt):
                setattr(f.options, opt, getattr(cur[f.name].options, opt))
        # nothing else changed: clearing the copied options again gives the original back
        after = descriptor_pb2.FileDescriptorProto()
        after.CopyFrom(f)
        for opt in OPTIONS:
            if not before.options.HasField(opt):
                after.options.ClearField(opt)
        if not after.options.ListFields():
            after.ClearField("options")
        assert after == before, f.name
        n += 1
    with open(released_path, "wb") as out:
        out.write(released.SerializeToString(deterministic=True))
    print(f"{released_path}: per-language options set on {n} files")


if __name__ == "__main__":
    main()
