#!/usr/bin/env python3
"""Writes the binary seeds of the image, backdoor and mmio fuzz targets (see each Fuzz/*.swift
for the input layout). The fdt seeds are dtc output: fdt.dts (GICv3) and the same tree with a
GICv2 and an SMC conduit; edge.dtb is Tests/KeelFDTTests/Fixtures/edge.dtb."""
import os, struct

here = os.path.dirname(os.path.abspath(__file__))

def write(target, name, data):
    os.makedirs(os.path.join(here, target), exist_ok=True)
    with open(os.path.join(here, target, name), "wb") as f:
        f.write(data)

# image: 40-byte parameter block (flags, load address, RAM base, RAM size, initrd size), then the image.
def params(flags=0, load=0, ram_base=0, ram_size=256, initrd=0):
    return struct.pack("<5Q", flags, load, ram_base, ram_size, initrd)

def linux_image(text_offset=0x80000, image_size=0x2000, flags=0b1010, body=64):
    header = struct.pack("<II", 0x91005A4D, 0x14000000)                 # MZ + branch
    header += struct.pack("<QQQQQQ", text_offset, image_size, flags, 0, 0, 0)
    header += struct.pack("<II", 0x644D5241, 0)                         # "ARM\x64", PE offset
    return header + bytes(body)

def elf(entry=0x40080000, paddr=0x40080000, filesz=0x40, memsz=0x1000):
    eh = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    eh += struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, entry, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, 0x78, paddr, paddr, filesz, memsz, 0x1000)
    return eh + ph + bytes(filesz)

write("image", "linux-image", params(flags=4, initrd=3000) + linux_image())
write("image", "linux-image-load-address", params(flags=1, load=0x40400000) + linux_image(image_size=0))
write("image", "elf", params() + elf())
write("image", "raw", params(flags=1 | 2, load=0x40010000, ram_base=0x40000000, ram_size=1 << 24) + bytes(100))

# backdoor: a program of operations (Fuzz/Backdoor.swift).
def rpc(text):
    data = text.encode()
    return bytes([2, len(data)]) + data

def command(number, w1=0):
    return bytes([4]) + struct.pack("<HI", number, w1)

def raw(w7, w0=0, w1=0, w2=0, w3=0, w4=0, w5=0):
    return bytes([0]) + struct.pack("<7I", w7, w0, w1, w2, w3, w4, w5)

write("backdoor", "commands", command(10) + command(1) + command(19) + command(20) + command(46) + command(55)
      + command(13) + command(11) + command(99) + raw(0x0E, 0x564D5868, 0, 10, 0x5658) + raw(0x2B5 << 5 | 0x4 | 0x2)
      + raw(0x0E, 0x12345678, 0, 10, 0x5658))
write("backdoor", "rpci", rpc("info-set guestinfo.keel.ip 10.0.0.2") + rpc("info-get guestinfo.keel.ip")
      + rpc("tools.set.version 12352") + rpc("guestlib.info.get 3") + rpc("log hello") + rpc("info-get guestinfo.none\0")
      + rpc("frobnicate"))
tclo_open = bytes([1, 0, 0]) + struct.pack("<I", 0x80000000 | 0x4F4C4354)
write("backdoor", "tclo", bytes([3, 5]) + b"reset" + tclo_open + bytes([1, 3, 0]) + struct.pack("<I", 0)
      + bytes([1, 4, 0]) + struct.pack("<I", 1) + bytes([1, 5, 0]) + struct.pack("<I", 1)
      + bytes([1, 1, 0]) + struct.pack("<I", 5) + bytes([1, 2, 0]) + b"OK \0" + bytes([1, 2, 0]) + b"x\0\0\0"
      + bytes([1, 6, 0]) + struct.pack("<I", 0))
write("backdoor", "rpci-direct", bytes([7]) + b"info-set guestinfo.a b c")

# mmio: ESR_EL2, HPFAR_EL2, FAR_EL2, register value (little-endian u64s).
def esr(isv=1, sas=2, sse=0, srt=1, sf=0, wnr=0, s1ptw=0, dfsc=0x07):
    iss = isv << 24 | sas << 22 | sse << 21 | srt << 16 | sf << 15 | s1ptw << 7 | wnr << 6 | dfsc
    return 0x24 << 26 | 1 << 25 | iss

def access(esr_value, ipa=0x09000000, value=0x8000_0080_8080_8080):
    return struct.pack("<4Q", esr_value, (ipa >> 12) << 4, ipa & 0xFFF, value)

write("mmio", "str-w", access(esr(wnr=1)))
write("mmio", "ldrsb-x", access(esr(sas=0, sse=1, sf=1)))
write("mmio", "ldrsh-w", access(esr(sas=1, sse=1, sf=0), ipa=0x08000004))
write("mmio", "str-xzr", access(esr(sas=3, srt=31, sf=1, wnr=1)))
