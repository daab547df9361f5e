#!/usr/bin/env python3
"""Derives a test fixture from a real hwloc export of this (GPU-less) machine: under each of
the first two cores it hangs a host bridge -> root port -> PCIe switch with two H100 GPUs and
one ConnectX-7 (mlx5_N, netdev ibpN). The CPUs are this machine's own, so a pinning test can
really apply the binding. Usage: make_derived_fixture.py EXPORT.xml > OUT.xml
The output is labelled as derived in its root info and in tests/data/SOURCES.md."""
import sys
import xml.etree.ElementTree as ET

tree = ET.parse(sys.argv[1])
root = tree.getroot()
gp = [10000]


def obj(parent, **attrs):
    gp[0] += 1
    attrs.setdefault("gp_index", str(gp[0]))
    return ET.SubElement(parent, "object", attrs)


def pci_tree(core, n):
    bus = 0x10 * (n + 1)
    hb = obj(core, type="Bridge", bridge_type="0-1", depth="0", bridge_pci=f"0000:[{bus:02x}-{bus + 15:02x}]")
    rp = obj(hb, type="Bridge", pci_busid=f"0000:{bus:02x}:01.0", pci_type="0604 [8086:352a] [0000:0000] 04",
             pci_link_speed="31.507692", bridge_type="1-1", depth="1", bridge_pci=f"0000:[{bus + 1:02x}-{bus + 15:02x}]")
    up = obj(rp, type="Bridge", pci_busid=f"0000:{bus + 1:02x}:00.0", pci_type="0604 [1000:c030] [1000:a064] b0",
             pci_link_speed="31.507692", bridge_type="1-1", depth="2", bridge_pci=f"0000:[{bus + 2:02x}-{bus + 15:02x}]")
    for fn, (dev, kind) in enumerate([(3, "gpu"), (4, "gpu"), (5, "nic")]):
        down = obj(up, type="Bridge", pci_busid=f"0000:{bus + 2:02x}:{fn:02x}.0",
                   pci_type="0604 [1000:c030] [1000:a064] b0", pci_link_speed="31.507692", bridge_type="1-1",
                   depth="3", bridge_pci=f"0000:[{bus + dev:02x}-{bus + dev:02x}]")
        busid = f"0000:{bus + dev:02x}:00.0"
        if kind == "gpu":
            d = obj(down, type="PCIDev", pci_busid=busid, pci_type="0302 [10de:2330] [10de:16c1] a1",
                    pci_link_speed="31.507692")
            ET.SubElement(d, "info", name="PCIVendor", value="NVIDIA Corporation")
            ET.SubElement(d, "info", name="PCIDevice", value="GH100 [H100 SXM5 80GB]")
        else:
            d = obj(down, type="PCIDev", pci_busid=busid, pci_type="0207 [15b3:1021] [15b3:0041] 00",
                    pci_link_speed="31.507692")
            ET.SubElement(d, "info", name="PCIVendor", value="Mellanox Technologies")
            ET.SubElement(d, "info", name="PCIDevice", value="MT2910 Family [ConnectX-7]")
            net = obj(d, type="OSDev", name=f"ibp{bus + dev}s0", osdev_type="2")
            ET.SubElement(net, "info", name="Address", value="00:00:00:00:00:00")
            ofed = obj(d, type="OSDev", name=f"mlx5_{n}", osdev_type="3")
            ET.SubElement(ofed, "info", name="Port1State", value="4")


cores = [o for o in root.iter("object") if o.get("type") == "Core"]
if len(cores) < 2:
    sys.exit("need an export with at least two cores")
for n, core in enumerate(cores[:2]):
    pci_tree(core, n)
machine = root.find("object")
# hwloc reads an object's <info> elements before its children: insert after the last one.
label = ET.Element("info", name="HeteroscaleDerived",
                   value="this machine's hwloc export with GPUs and NICs added by make_derived_fixture.py")
last_info = max([i for i, c in enumerate(machine) if c.tag == "info"], default=-1)
machine.insert(last_info + 1, label)
sys.stdout.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE topology SYSTEM "hwloc2.dtd">\n')
sys.stdout.write(ET.tostring(root, encoding="unicode"))
sys.stdout.write("\n")
