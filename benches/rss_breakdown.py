#!/usr/bin/env python3
"""What the resident memory of two bench_server processes is made of.

    python3 benches/rss_breakdown.py PLAIN_PID PROTECTED_PID BINARY [--top N]

benches/rss.sh runs it on the last round's two servers (bench_server --plain
and bench_server --issuer URL), while they are still alive. Python 3 standard
library only, plus c++filt (binutils, the demangler `nm -C` uses). Run it as
root (rss.sh does): it reads /proc/PID/pagemap and /proc/PID/mem of the two
servers, which needs ptrace access to them. It only reads: nothing in the
servers is written, stopped or signalled.

Method
------
1. Binary mappings. /proc/PID/maps gives the mappings of BINARY (matched by
   device and inode, so that another hard link's path matches too); /proc/PID/pagemap gives one 64-bit entry per virtual page: bit 63
   = present, bit 62 = swapped, bit 61 = file page (or shared anonymous). A
   present page of a private file mapping with bit 61 clear is a private
   copy (copy-on-write): it counts as anonymous memory, not as the file's
   (that is the relocated RELRO/.data of a PIE). PFNs are not used (they read
   as 0 without CAP_SYS_ADMIN; the flag bits do not). Each mapping is
   translated to ELF virtual addresses (load base = start of the mapping at
   file offset 0) and split by ELF section (.text, .rodata, .eh_frame, ...).
2. Text. Every resident page of the r-x mapping is attributed to the symbols
   of BINARY's .symtab (read from the ELF file itself: the same symbols,
   addresses and sizes as `nm --defined-only -S`, thread-local ones left out,
   plus the STT_FILE entries that say which object a local symbol comes
   from), names demangled by c++filt. A page holding
   several symbols is split proportionally to the bytes of each symbol
   inside the page; alignment padding (gaps under 64 bytes) counts for the
   symbol before it, a zero-size symbol (assembly without .size) extends to
   the next symbol (at most 16 kB); bytes no symbol covers (.plt, bytes of
   the neighbouring segment at the mapping's edges) count as "(no symbol)".
   Symbols are grouped by crate:
     - v0-mangled names (_R...) come from the precompiled standard library
       (this build mangles its own crates the legacy way):
       "std/core/alloc (libstd)";
     - legacy names (_ZN...): the first path segment of the demangled path;
       for `<Type as Trait>::f` the crate of Type (of Trait when Type is a
       generic parameter or a primitive). A std/core/alloc item whose name
       shows which other crate's type it was instantiated for (above all
       `core::ptr::drop_in_place<reqwest::...>`) counts for that crate;
       other std generics instantiated in this binary (`Vec<T>::reserve`,
       `Arc<T>::drop_slow`: legacy names do not say for which T) are
       "std/core/alloc (generic inst.)";
     - other local symbols of a Rust object (anon.* constants, the C-named
       functions of compiler_builtins): the crate of the object, from the
       STT_FILE entry before them (`rustls.<hash>-cgu.13`);
     - C and assembly: aws-lc's symbols (prefixed aws_lc_..., or local to a
       .c object of aws-lc, e.g. bn_*, sha*, ec_GFp_*) are "aws-lc (C)";
       blake3_* is "blake3 (C/asm)"; crt and the like "C runtime/other".
   Caveat: on a page fault, the kernel's fault-around also maps the file
   pages already in the page cache around the faulting one, up to 64 kB
   (fault_around_bytes, default 64 kB: 16 pages, aligned), so "resident" is
   a superset of "executed": a 64 kB window is resident if any byte in it
   was touched. The count of 64 kB windows with resident pages is printed;
   the attribution to symbols includes those neighbours.
3. Read-only data (the r-- mapping at file offset 0): resident kB per
   section, and .rodata by crate where symbols cover it (most of .rodata is
   unnamed constants and merged strings: "(no symbol)").
4. Anonymous memory, from /proc/PID/smaps (Rss and Anonymous per mapping):
   [heap] (the main malloc arena), other malloc arenas (64 MiB-aligned
   anonymous mappings followed by their PROT_NONE reserve), thread stacks
   (after a PROT_NONE guard), [stack], the binary's private copies and
   .bss, shared libraries' private copies, other anonymous mappings.
   4b. Inside those heaps: a walk of glibc malloc's chunk headers, read
   from /proc/PID/mem (present pages only; nothing is written, the process
   is not stopped: it must be idle, as rss.sh's servers are at rest). From
   the start of [heap], and of each other arena's first chunk (found after
   its heap_info and malloc_state), chunk by chunk to the top chunk: in use
   per the next chunk's PREV_INUSE bit, minus the chunks listed in the
   threads' tcaches (the first chunk of each heap, its tcache_perthread_struct,
   followed list by list) = "live" (chunks in fastbins, <= 128 B, still count
   as live); free chunks in resident pages = freed memory malloc keeps.
   Live bytes are also given by chunk size. A heap whose chain does not hold
   together is reported as such and left out.
5. The whole VmRSS by component.

BINARY must have a .symtab. The release profile of this crate does not strip
symbols (Cargo.toml has no [profile.release]; cargo's default for release is
strip = "debuginfo" when debug = 0, which keeps the symbol table), so the
rss.sh build is measured as is. Should a profile strip them, build the
example for the measurement with CARGO_PROFILE_RELEASE_STRIP=none.

All figures are kB (1 kB = 1024 bytes); differences are protected - plain.
"""

import argparse
import array
import bisect
import collections
import os
import re
import struct
import subprocess
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")
WINDOW = 64 * 1024  # the kernel's default fault_around_bytes
STD = {"std", "core", "alloc"}
LIBSTD = "std/core/alloc (libstd)"
STD_GENERIC = "std/core/alloc (generic inst.)"
AWS_LC_C = "aws-lc (C)"
NO_SYMBOL = "(no symbol)"


# ---------------------------------------------------------------- ELF ------


class Elf:
    """Program headers, section headers and .symtab of an ELF64 LE file."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            sys.exit(f"rss_breakdown: {path} is not a little-endian ELF64 file")
        (e_phoff, e_shoff) = struct.unpack_from("<QQ", data, 0x20)
        (e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = struct.unpack_from("<HHHHH", data, 0x36)
        self.loads = []  # (vaddr, memsz, offset, filesz, flags)
        for i in range(e_phnum):
            p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from(
                "<IIQQQQQQ", data, e_phoff + i * e_phentsize
            )
            if p_type == 1:
                self.loads.append((p_vaddr, p_memsz, p_offset, p_filesz, p_flags))
        raw = []
        for i in range(e_shnum):
            raw.append(struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize))
        shstr = raw[e_shstrndx]

        def name_at(table_off, off):
            end = data.index(b"\0", table_off + off)
            return data[table_off + off : end].decode("utf-8", "replace")

        self.sections = []  # (name, addr, size, flags, type)
        for sh in raw:
            nm = name_at(shstr[4], sh[0])
            self.sections.append((nm, sh[3], sh[5], sh[2], sh[1]))
        self.symbols = []  # (value, size, type, bind, shndx, name, file)
        symtab = [sh for sh in raw if sh[1] == 2]  # SHT_SYMTAB
        self.has_symtab = bool(symtab)
        if symtab:
            sh = symtab[0]
            strtab_off = raw[sh[6]][4]
            count = sh[5] // 24
            current_file = ""
            for i in range(count):
                st_name, st_info, _, st_shndx, st_value, st_size = struct.unpack_from(
                    "<IBBHQQ", data, sh[4] + i * 24
                )
                typ, bind = st_info & 0xF, st_info >> 4
                if typ == 4:  # STT_FILE
                    current_file = name_at(strtab_off, st_name)
                    continue
                if bind != 0:  # globals follow all locals: no file for them
                    current_file = ""
                if st_shndx == 0 or st_shndx >= 0xFF00 or typ not in (0, 1, 2):
                    continue
                name = name_at(strtab_off, st_name)
                if not name or name.startswith(".L") or name.startswith("$"):
                    continue
                self.symbols.append((st_value, st_size, typ, bind, st_shndx, name, current_file))

    def section_of(self, name):
        for s in self.sections:
            if s[0] == name:
                return s
        return None


# ----------------------------------------------------------- crates --------


def demangle_all(names):
    """Demangled names (hashes and crate disambiguators removed), by c++filt."""
    clean = [re.sub(r"\.llvm\.\d+$", "", n) for n in names]
    try:
        out = subprocess.run(
            ["c++filt"], input="\n".join(clean) + "\n", capture_output=True, text=True, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        sys.exit("rss_breakdown: c++filt (binutils) is required to demangle the symbols")
    if len(out) < len(clean):
        sys.exit("rss_breakdown: c++filt returned fewer lines than it was given")
    result = {}
    for orig, dem in zip(names, out):
        dem = re.sub(r"::h[0-9a-f]{16}$", "", dem)
        dem = re.sub(r"\[[0-9a-f]+\]", "", dem)
        result[orig] = dem
    return result


def split_angle(s):
    """s starts with '<': (inside of the matching <...>, rest)."""
    depth = 0
    for i, c in enumerate(s):
        if c == "<":
            depth += 1
        elif c == ">":
            # `->` in fn types is not a bracket
            if i > 0 and s[i - 1] == "-":
                continue
            depth -= 1
            if depth == 0:
                return s[1:i], s[i + 1 :]
    return s[1:], ""


def split_as(inner):
    """`Type as Trait` at bracket depth 0 -> (Type, Trait or None)."""
    depth = 0
    i = 0
    while i < len(inner):
        c = inner[i]
        if c in "<([":
            depth += 1
        elif c in ">)]" and not (c == ">" and i > 0 and inner[i - 1] == "-"):
            depth -= 1
        elif depth == 0 and inner.startswith(" as ", i):
            return inner[:i], inner[i + 4 :]
        i += 1
    return inner, None


def path_crate(s):
    """The crate of a demangled path or type, or None (primitive, generic)."""
    s = s.strip()
    while True:
        for p in ("&mut ", "&", "*const ", "*mut ", "dyn ", "impl ", "unsafe ", 'extern "C" ', "["):
            if s.startswith(p):
                s = s[len(p) :].lstrip()
                break
        else:
            break
    if s.startswith("<"):
        inner, _ = split_angle(s)
        typ, trait = split_as(inner)
        crate = path_crate(typ)
        if crate is None and trait is not None:
            crate = path_crate(trait)
        return crate
    if s.startswith("("):
        return path_crate(s[1:]) if len(s) > 1 and s[1] != ")" else None
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", s)
    return m.group(1) if m else None


def other_crate_in(name):
    """The first crate other than std/core/alloc named in `name`, or None."""
    for m in re.finditer(r"(?<![A-Za-z0-9_:])([A-Za-z_][A-Za-z0-9_]*)::", name):
        if m.group(1) not in STD:
            return m.group(1)
    return None


def group_of(name, demangled, file):
    if name.startswith("_R"):
        return LIBSTD
    if name.startswith("_ZN"):
        crate = path_crate(demangled)
        if crate is None:
            return "other (Rust)"
        if crate in STD:
            return other_crate_in(demangled) or STD_GENERIC
        return crate
    cgu = re.match(r"^([A-Za-z0-9_]+)\.[0-9a-f]{16}-cgu\.\d+$", file)
    if cgu:  # a local of a Rust object (anon.* constants, compiler_builtins)
        crate = cgu.group(1)
        return LIBSTD if crate in STD or crate == "compiler_builtins" else crate
    low = name.lower()
    if low.startswith("aws_lc") or (file.endswith((".c", ".S", ".s")) and file != "crtstuff.c"):
        return AWS_LC_C
    if low.startswith(("blake3_", "_blake3_")):
        return "blake3 (C/asm)"
    if name.startswith("__rust") or name == "rust_eh_personality":
        return LIBSTD
    return "C runtime/other"


# --------------------------------------------------------- intervals -------


class Intervals:
    """Non-overlapping [start, end) ranges of ELF addresses -> (group, name)."""

    def __init__(self, elf, names, lo, hi):
        syms = sorted(
            (s for s in elf.symbols if lo <= s[0] < hi),
            key=lambda s: (s[0], -s[1]),
        )
        # one entry per address: the largest symbol there (aliases)
        uniq = []
        for s in syms:
            if uniq and uniq[-1][0] == s[0]:
                continue
            uniq.append(s)
        self.starts, self.ends, self.groups, self.names = [], [], [], []
        for i, (value, size, _, _, _, name, file) in enumerate(uniq):
            nxt = uniq[i + 1][0] if i + 1 < len(uniq) else hi
            if size == 0:
                end = min(nxt, value + 16384)
            else:
                end = min(value + size, nxt)
                if 0 < nxt - end < 64:
                    end = nxt
            if end <= value:
                continue
            self.starts.append(value)
            self.ends.append(end)
            self.groups.append(group_of(name, names.get(name, name), file))
            self.names.append(names.get(name, name))

    def attribute(self, lo, hi, by_group, by_symbol=None):
        """Adds the bytes of [lo, hi) to by_group (and by_symbol)."""
        covered = 0
        i = bisect.bisect_right(self.ends, lo)
        while i < len(self.starts) and self.starts[i] < hi:
            a, b = max(lo, self.starts[i]), min(hi, self.ends[i])
            if b > a:
                by_group[self.groups[i]] += b - a
                if by_symbol is not None:
                    by_symbol[(self.groups[i], self.names[i])] += b - a
                covered += b - a
            i += 1
        if hi - lo > covered:
            by_group[NO_SYMBOL] += hi - lo - covered


# ------------------------------------------------------------ /proc --------

MAP_RE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$")


def read_smaps(pid):
    """[(start, end, perms, offset, (major, minor, inode), path, {field: kB})], in address order."""
    maps = []
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = MAP_RE.match(line)
            if m:
                maps.append(
                    (
                        int(m[1], 16),
                        int(m[2], 16),
                        m[3],
                        int(m[4], 16),
                        tuple(int(x, 16) for x in m[5].split(":")) + (int(m[6]),),
                        m[7],
                        {},
                    )
                )
                continue
            key, _, rest = line.partition(":")
            parts = rest.split()
            if maps and len(parts) == 2 and parts[1] == "kB":
                maps[-1][6][key] = int(parts[0])
    return maps


def pagemap(pid, start, end):
    """The pagemap entries (array of uint64) of [start, end)."""
    n = (end - start) // PAGE
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(start // PAGE * 8)
        raw = f.read(n * 8)
    entries = array.array("Q")
    entries.frombytes(raw)
    if sys.byteorder != "little":
        entries.byteswap()
    return entries


PRESENT, SWAPPED, FILE_PAGE = 1 << 63, 1 << 62, 1 << 61


class Process:
    def __init__(self, pid, binary, elf):
        self.pid = pid
        self.smaps = read_smaps(pid)
        # matched by device and inode: the path in maps may be another hard
        # link to the same file (cargo links examples/X to deps/X-hash)
        st = os.stat(binary)
        me = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
        mine = [m for m in self.smaps if m[4] == me]
        if not mine:
            sys.exit(f"rss_breakdown: process {pid} does not map {binary} (device {me[0]}:{me[1]}, inode {me[2]})")
        first = [m for m in mine if m[3] == 0]
        if not first:
            sys.exit(f"rss_breakdown: no mapping of {binary} at file offset 0 in process {pid}")
        load0 = min(l[0] for l in elf.loads) // PAGE * PAGE
        self.base = first[0][0] - load0
        self.binary_maps = mine
        # the anonymous mapping right after the binary's last one: .bss
        last_end = max(m[1] for m in mine)
        self.bss = [m for m in self.smaps if m[0] == last_end and not m[5] and m[4][2] == 0]
        self.status = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                self.status[k] = v.split()[0] if v.split() else ""

    def pages(self, m):
        """[(ELF address of page, entry)] of the present pages of mapping m."""
        entries = pagemap(self.pid, m[0], m[1])
        out = []
        for i, e in enumerate(entries):
            if e & PRESENT:
                out.append((m[0] + i * PAGE - self.base, e))
        return out


# ------------------------------------------------------- glibc malloc -----


class Memory:
    """Reads words of another process's memory (/proc/PID/mem), resident pages
    only: a page that is not present is never read (reading it could map it)."""

    def __init__(self, pid):
        self.pid = pid
        self.file = open(f"/proc/{pid}/mem", "rb", buffering=0)
        self.present = set()
        self.cache = {}

    def add_region(self, start, end):
        for i, e in enumerate(pagemap(self.pid, start, end)):
            if e & PRESENT:
                self.present.add(start + i * PAGE)

    def u64(self, addr):
        page = addr - addr % PAGE
        if page not in self.present or addr % PAGE > PAGE - 8:
            return None
        data = self.cache.get(page)
        if data is None:
            try:
                self.file.seek(page)
                data = self.file.read(PAGE)
            except OSError:
                return None
            self.cache[page] = data
        if len(data) < addr % PAGE + 8:
            return None
        return struct.unpack_from("<Q", data, addr % PAGE)[0]

    def resident_bytes(self, lo, hi):
        n = 0
        page = lo - lo % PAGE
        while page < hi:
            if page in self.present:
                n += min(hi, page + PAGE) - max(lo, page)
            page += PAGE
        return n


def walk_chunks(mem, first, end):
    """glibc malloc chunks from `first` to the top chunk, which must end at
    `end`: ([(address, size)] of in-use chunks, free bytes, resident free
    bytes, top bytes, resident top bytes), or None when the chain does not
    hold together. A chunk is in use when the next chunk's PREV_INUSE bit
    says so, which is also true of chunks cached in a tcache or a fastbin."""
    used, free, free_res = [], 0, 0
    p = first
    for _ in range(1 << 20):
        size = mem.u64(p + 8)
        if size is None:
            return None
        csize = size & ~7
        if csize < 32 or csize % 16 or p + csize > end:
            return None
        nxt = p + csize
        if nxt == end:  # the top chunk
            return used, free, free_res, csize, mem.resident_bytes(p + 16, nxt)
        nsize = mem.u64(nxt + 8)
        if nsize is None:
            return None
        if nsize & 1:
            used.append((p, csize))
        else:
            free += csize
            free_res += mem.resident_bytes(p + 16, nxt)
        p = nxt
    return None


TCACHE_CHUNK = 16 + 64 * 2 + 64 * 8  # tcache_perthread_struct: counts[64], entries[64]


def tcache_chunks(mem, regions):
    """Addresses of the chunks cached in the threads' tcaches. A thread's
    tcache_perthread_struct is the first chunk its arena hands out (its first
    malloc allocates it), so the first chunk of each heap, when it has that
    size; each list is followed from entries[i] for counts[i] chunks,
    next pointers unmangled (safe-linking: next = stored ^ (address >> 12))."""
    cached = set()
    for _, _, result in regions:
        if not result or not result[0]:
            continue
        first, size = result[0][0]
        if size != TCACHE_CHUNK:
            continue
        user = first + 16
        for i in range(64):
            word = mem.u64(user + (i // 4) * 8)
            if word is None:
                break
            count = (word >> (16 * (i % 4))) & 0xFFFF
            e = mem.u64(user + 128 + 8 * i)
            for _ in range(min(count, 1024)):
                if not e or e % 16:
                    break
                cached.add(e - 16)
                stored = mem.u64(e)
                if stored is None:
                    break
                e = stored ^ (e >> 12)
    return cached


def malloc_regions(proc):
    """[(label, smaps entry, walk result or None)] for [heap] and the other
    arenas (a 64 MiB-aligned heap: heap_info {ar_ptr, prev, size, ..} at its
    start, the arena's malloc_state at ar_ptr, the first chunk after it),
    and the set of chunk addresses cached in tcaches."""
    mem = Memory(proc.pid)
    out = []
    by_start = {m[0]: m for m in proc.smaps}
    for m in proc.smaps:
        start, end, perms, path = m[0], m[1], m[2], m[5]
        if path == "[heap]":
            mem.add_region(start, end)
            out.append(("[heap]", m, walk_chunks(mem, start, end)))
        elif (
            not path
            and "w" in perms
            and start % (64 << 20) == 0
            and end in by_start
            and by_start[end][2].startswith("---")
        ):
            mem.add_region(start, end)
            ar_ptr, size = mem.u64(start), mem.u64(start + 16)
            result = None
            if ar_ptr and size and start < ar_ptr < start + PAGE and size <= end - start:
                # the first chunk: after malloc_state (2,200 bytes in glibc
                # 2.36 x86_64; searched, so that the layout need not be known)
                for first in range(ar_ptr + 0x400, ar_ptr + 0x1000, 16):
                    result = walk_chunks(mem, first, start + size)
                    if result:
                        break
            out.append(("arena", m, result))
    return out, tcache_chunks(mem, out)


# ------------------------------------------------------------ output -------


def kb(nbytes):
    return nbytes / 1024


def fmt(v, sign=False):
    """kB with thousands separators; one decimal under 10 kB (proportional splits)."""
    spec = "+" if sign else ""
    return f"{v:{spec},.0f}" if abs(v) >= 9.95 or v == 0 else f"{v:{spec},.1f}"


def table(title, rows, cols=("plain", "protected", "diff"), width=34, small=0.0):
    """rows: {label: (plain kB, protected kB)}; prints label, plain, protected,
    diff, sorted by diff, then a total. Rows under `small` kB in both
    processes are summed into one line."""
    print(f"  {title:<{width}} {cols[0]:>10} {cols[1]:>10} {cols[2]:>10}")
    items = sorted(rows.items(), key=lambda kv: (-(kv[1][1] - kv[1][0]), -kv[1][1], kv[0]))
    tp = sum(p for _, (p, _) in items)
    tq = sum(q for _, (_, q) in items)
    folded = [kv for kv in items if max(kv[1]) < small]
    if len(folded) > 1:
        items = [kv for kv in items if max(kv[1]) >= small]
        fp = sum(p for _, (p, _) in folded)
        fq = sum(q for _, (_, q) in folded)
        items.append((f"{len(folded)} others, < {small:g} kB each", (fp, fq)))
    for label, (p, q) in items:
        if p == 0 and q == 0:
            continue
        print(f"  {label:<{width}} {fmt(p):>10} {fmt(q):>10} {fmt(q - p, True):>10}")
    print(f"  {'total':<{width}} {fmt(tp):>10} {fmt(tq):>10} {fmt(tq - tp, True):>10}")


def section_ranges(elf, lo, hi):
    """Allocated sections overlapping [lo, hi): [(name, start, end)]."""
    out = []
    for name, addr, size, flags, typ in elf.sections:
        if not flags & 2 or size == 0:  # SHF_ALLOC
            continue
        a, b = max(lo, addr), min(hi, addr + size)
        if b > a:
            out.append((name, a, b))
    return out


def per_section(elf, pages):
    """{section: bytes} of the present pages (page bytes outside any section: '(between sections)')."""
    res = collections.Counter()
    for addr, _ in pages:
        covered = 0
        for name, a, b in section_ranges(elf, addr, addr + PAGE):
            res[name] += b - a
            covered += b - a
        if PAGE - covered > 0:
            res["(between sections)"] += PAGE - covered
    return res


def kind_of(m, base, elf):
    """text, rodata, relro or data: by the PT_LOAD that holds the mapping."""
    lo = m[0] - base
    for vaddr, memsz, _, _, flags in elf.loads:
        if vaddr // PAGE * PAGE <= lo < vaddr + memsz:
            if flags & 1:  # PF_X
                return "text"
            if flags & 2:  # PF_W: RELRO once mprotect()ed read-only, else data
                return "data" if "w" in m[2] else "relro"
            return "rodata"
    return "rodata"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("plain_pid", type=int)
    ap.add_argument("protected_pid", type=int)
    ap.add_argument("binary")
    ap.add_argument("--top", type=int, default=20, help="symbols listed by resident difference (default 20)")
    args = ap.parse_args()

    elf = Elf(args.binary)
    print("=" * 78)
    print("RSS breakdown (benches/rss_breakdown.py): what protected - plain is made of")
    print(f"  plain pid {args.plain_pid}, protected pid {args.protected_pid}")
    print(f"  binary {args.binary}")
    if not elf.has_symtab:
        print("  the binary has NO symbol table (stripped): text and rodata are given by section only;")
        print("  rebuild with CARGO_PROFILE_RELEASE_STRIP=none for the attribution to crates")
    else:
        print(f"  {len(elf.symbols):,} symbols in .symtab (not stripped); names demangled by c++filt")
    print("  method: /proc/PID/maps + pagemap (bit 63 present, bit 61 file page) per page of the binary;")
    print("  text pages split between symbols in proportion to their bytes in the page; smaps for anon.")
    print("  kB = 1024 bytes; diff = protected - plain. See the script's header for the details.")

    procs = [Process(args.plain_pid, args.binary, elf), Process(args.protected_pid, args.binary, elf)]
    for p in procs:
        if p.status.get("Name") is None:
            sys.exit(f"rss_breakdown: no process {p.pid}")

    names = demangle_all([s[5] for s in elf.symbols if s[5].startswith(("_ZN", "_R"))]) if elf.has_symtab else {}

    # -- 1. binary mappings ------------------------------------------------
    print()
    print("1. Resident pages of the binary's mappings (pagemap), kB")
    print("   file = page-cache page (counted in RssFile); anon = private copy (counted in RssAnon)")
    kinds = ["rodata", "text", "relro", "data", "bss"]
    labels = {
        "rodata": "r--  headers, .rela.dyn, .rodata, .eh_frame..",
        "text": "r-x  .text, .plt",
        "relro": "r--  RELRO: .data.rel.ro, .got (relocated)",
        "data": "rw-  .data (+ start of .bss)",
        "bss": "rw-  anon after the binary: .bss",
    }
    pages = [{k: [] for k in kinds} for _ in procs]
    extents = {}
    for pi, p in enumerate(procs):
        for m in p.binary_maps:
            k = kind_of(m, p.base, elf)
            pages[pi][k] += p.pages(m)
            lo, hi = m[0] - p.base, m[1] - p.base
            e = extents.get(k)
            extents[k] = (min(lo, e[0]), max(hi, e[1])) if e else (lo, hi)
        for m in p.bss:
            pages[pi]["bss"] += p.pages(m)
            extents["bss"] = (m[0] - p.base, m[1] - p.base)
    print(f"  {'mapping':<46} {'ELF addresses':>19} {'plain':>13} {'protected':>13} {'diff':>7}")
    print(f"  {'':<46} {'':>19} {'file+anon':>13} {'file+anon':>13}")
    tot = [[0, 0], [0, 0]]
    for k in kinds:
        if k not in extents:
            continue
        cells = []
        for pi in range(2):
            f = sum(1 for _, e in pages[pi][k] if e & FILE_PAGE) * PAGE // 1024
            a = sum(1 for _, e in pages[pi][k] if not e & FILE_PAGE) * PAGE // 1024
            tot[pi][0] += f
            tot[pi][1] += a
            cells.append((f, a))
        lo, hi = extents[k]
        rng = f"{lo:#x}-{hi:#x}"
        d = sum(cells[1]) - sum(cells[0])
        print(
            f"  {labels[k]:<46} {rng:>19} {cells[0][0]:>6}+{cells[0][1]:<6} {cells[1][0]:>6}+{cells[1][1]:<6} {d:>+7}"
        )
    d = sum(tot[1]) - sum(tot[0])
    print(f"  {'total':<46} {'':>19} {tot[0][0]:>6}+{tot[0][1]:<6} {tot[1][0]:>6}+{tot[1][1]:<6} {d:>+7}")
    swapped = [sum(1 for k in kinds for _, e in pages[pi][k] if e & SWAPPED) for pi in range(2)]
    if any(swapped):
        print(f"  (swapped-out pages, not counted: plain {swapped[0]}, protected {swapped[1]})")

    print()
    print("  by section (pages split between the sections they hold), kB")
    rows = {}
    for pi in range(2):
        for k in kinds:
            for sec, nbytes in per_section(elf, pages[pi][k]).items():
                rows.setdefault(sec, [0.0, 0.0])[pi] += kb(nbytes)
    table("section", {k: tuple(v) for k, v in rows.items()}, width=24, small=1)

    # -- 2. text by crate ------------------------------------------------
    text_lo, text_hi = extents["text"]
    print()
    print("2. Text (r-x mapping): resident kB by crate")
    if not elf.has_symtab:
        print("  (no symbols: skipped)")
    else:
        print("   each resident page split between the symbols in it, in proportion to their bytes")
        text = Intervals(elf, names, text_lo, text_hi)
        by_group = [collections.Counter(), collections.Counter()]
        by_symbol = [collections.Counter(), collections.Counter()]
        for pi in range(2):
            for addr, _ in pages[pi]["text"]:
                text.attribute(addr, addr + PAGE, by_group[pi], by_symbol[pi])
        groups = set(by_group[0]) | set(by_group[1])
        table("crate", {g: (kb(by_group[0][g]), kb(by_group[1][g])) for g in groups}, small=2)
        windows = [len({a // WINDOW for a, _ in pages[pi]["text"]}) for pi in range(2)]
        print(
            f"  64 kB-aligned windows of text with resident pages (fault-around granularity): "
            f"plain {windows[0]} ({windows[0] * 64:,} kB), protected {windows[1]} ({windows[1] * 64:,} kB)"
        )
        full = [
            sum(1 for w, n in collections.Counter(a // WINDOW for a, _ in pages[pi]["text"]).items() if n == WINDOW // PAGE)
            for pi in range(2)
        ]
        print(f"  of which fully resident (16 of 16 pages): plain {full[0]}, protected {full[1]}")
        plain_pages = {a for a, _ in pages[0]["text"]}
        only = [a for a, _ in pages[1]["text"] if a not in plain_pages]
        gone = len(plain_pages - {a for a, _ in pages[1]["text"]})
        print(
            f"  pages resident in protected only: {len(only)} ({len(only) * PAGE // 1024:,} kB); "
            f"in plain only: {gone} ({gone * PAGE // 1024:,} kB)"
        )
        if args.top > 0:
            only_sym = collections.Counter()
            only_group = collections.Counter()
            for a in only:
                text.attribute(a, a + PAGE, only_group, only_sym)
            print()
            print(f"  the {args.top} symbols with the most bytes in protected-only text pages")
            print(f"  {'kB':>7}  {'crate':<24} symbol")
            for (g, s), nbytes in only_sym.most_common(args.top):
                s = s if len(s) <= 110 else s[:107] + "..."
                print(f"  {kb(nbytes):>7.1f}  {g:<24} {s}")

    # -- 3. rodata ---------------------------------------------------------
    print()
    print("3. Read-only data (r-- mapping at file offset 0)")
    rodata = elf.section_of(".rodata")
    if elf.has_symtab and rodata:
        lo, hi = rodata[1], rodata[1] + rodata[2]
        ro = Intervals(elf, names, lo, hi)
        covered = sum(e - s for s, e in zip(ro.starts, ro.ends))
        print(
            f"  .rodata: {rodata[2] // 1024:,} kB, of which {covered / rodata[2]:.0%} is covered by "
            f"{len(ro.starts):,} named symbols; resident .rodata bytes by crate, kB:"
        )
        by = [collections.Counter(), collections.Counter()]
        for pi in range(2):
            for addr, _ in pages[pi]["rodata"]:
                a, b = max(addr, lo), min(addr + PAGE, hi)
                if b > a:
                    ro.attribute(a, b, by[pi])
        groups = set(by[0]) | set(by[1])
        table("crate", {g: (kb(by[0][g]), kb(by[1][g])) for g in groups}, small=2)
    else:
        print("  (no .rodata symbols: see the section table above)")

    # -- 4. anonymous memory and the whole VmRSS ----------------------------
    print()
    print("4. Anonymous memory (smaps: Anonymous of each mapping), kB")
    rows = {}
    whole = {}
    for pi, p in enumerate(procs):
        binary_starts = {m[0] for m in p.binary_maps}
        bss_starts = {m[0] for m in p.bss}
        by_start = {m[0]: m for m in p.smaps}
        by_end = {m[1]: m for m in p.smaps}
        for m in p.smaps:
            start, end, perms, _, _, path, f = m
            anon, rss = f.get("Anonymous", 0), f.get("Rss", 0)
            if start in binary_starts:
                cat = "binary: private copies (RELRO, .data)"
                wcat = "binary"
            elif start in bss_starts:
                cat = "binary: .bss"
                wcat = "binary"
            elif path == "[heap]":
                cat = "[heap] (main malloc arena)"
                wcat = cat
            elif path == "[stack]":
                cat = "[stack] (main thread)"
                wcat = cat
            elif path.startswith("/"):
                cat = "shared libraries: private copies"
                wcat = "shared libraries (" + os.path.basename(path) + ")"
            elif path.startswith("["):
                cat = "other " + path
                wcat = "kernel " + path
            elif (
                "w" in perms
                and start % (64 << 20) == 0
                and end in by_start
                and by_start[end][2].startswith("---")
            ):
                cat = "malloc arenas of other threads"
                wcat = cat
            elif "w" in perms and start in by_end and by_end[start][2].startswith("---"):
                cat = "thread stacks (after a guard page)"
                wcat = cat
            else:
                cat = "other anonymous mappings"
                wcat = cat
            if anon:
                rows.setdefault(cat, [0.0, 0.0])[pi] += anon
            if wcat == "binary":
                continue  # split below into file and anon
            if wcat.startswith("shared libraries"):
                # file pages per library, their private copies together
                if rss - anon:
                    whole.setdefault(wcat + " file", [0.0, 0.0])[pi] += rss - anon
                if anon:
                    whole.setdefault("shared libraries: private copies", [0.0, 0.0])[pi] += anon
                continue
            if rss:
                whole.setdefault(wcat, [0.0, 0.0])[pi] += rss
    table("anonymous", {k: tuple(v) for k, v in rows.items()}, width=46)
    heap = [sum(m[6].get("Rss", 0) for m in p.smaps if m[5] == "[heap]") for p in procs]
    anon = [sum(m[6].get("Anonymous", 0) for m in p.smaps) for p in procs]
    print(f"  [heap] Rss: plain {heap[0]:,}, protected {heap[1]:,}, diff {heap[1] - heap[0]:+,}")
    print(f"  all Anonymous: plain {anon[0]:,}, protected {anon[1]:,}, diff {anon[1] - anon[0]:+,}")

    print()
    print("  4b. inside the malloc heaps: a walk of glibc's chunks (/proc/PID/mem), kB")
    print("      live = allocated (or freed into a fastbin: chunks <= 128 B); tcache = freed, kept by a")
    print("      thread's cache; free = in the bins (resident part: in present pages, freed, not given back)")
    walks = [malloc_regions(p) for p in procs]
    rows = {}
    hist = {}
    buckets = [64, 128, 256, 512, 1024, 4096, 16384, 65536, 1 << 62]
    failed = []
    for pi, (regions, cached) in enumerate(walks):
        for label, m, result in regions:
            name = "[heap]" if label == "[heap]" else "other arenas"
            rows.setdefault(f"{name}: Rss", [0.0, 0.0])[pi] += m[6].get("Rss", 0)
            if result is None:
                failed.append(f"{('plain', 'protected')[pi]} {label} at {m[0]:#x}")
                continue
            chunks, free, free_res, top, top_res = result
            used = [size for addr, size in chunks if addr not in cached]
            in_tcache = [size for addr, size in chunks if addr in cached]
            rows.setdefault(f"{name}: live", [0.0, 0.0])[pi] += kb(sum(used))
            rows.setdefault(f"{name}: in tcaches", [0.0, 0.0])[pi] += kb(sum(in_tcache))
            rows.setdefault(f"{name}: free chunks, resident", [0.0, 0.0])[pi] += kb(free_res)
            rows.setdefault(f"{name}: top chunk, resident", [0.0, 0.0])[pi] += kb(top_res)
            rows.setdefault(f"{name}: live chunks (a count, not kB)", [0.0, 0.0])[pi] += len(used)
            for c in used:
                b = next(x for x in buckets if c <= x)
                hist.setdefault(b, [0.0, 0.0])[pi] += kb(c)
    print(f"  {'':<46} {'plain':>10} {'protected':>10} {'diff':>10}")
    for label in sorted(rows, key=lambda k: (not k.startswith("[heap]"), k)):
        p, q = rows[label]
        print(f"  {label:<46} {fmt(p):>10} {fmt(q):>10} {fmt(q - p, True):>10}")
    if failed:
        print(f"  (walk failed, not counted above: {', '.join(failed)})")
    print("  live bytes by chunk size (all heaps), kB")
    prev = 0
    for b in buckets:
        if b in hist:
            p, q = hist[b]
            lbl = f"chunks {prev + 1:,}-{b:,} B" if b < 1 << 62 else f"chunks > {prev:,} B"
            print(f"  {lbl:<46} {fmt(p):>10} {fmt(q):>10} {fmt(q - p, True):>10}")
        prev = b

    print()
    print("5. The whole VmRSS by component (smaps Rss; binary split as in 1), kB")
    for pi in range(2):
        for k in kinds:
            if k == "text":
                lbl = "binary text (file)"
            elif k == "rodata":
                lbl = "binary r-- rodata etc. (file)"
            else:
                lbl = "binary RELRO/.data/.bss"
            f = sum(1 for _, e in pages[pi][k] if e & FILE_PAGE) * PAGE / 1024
            a = sum(1 for _, e in pages[pi][k] if not e & FILE_PAGE) * PAGE / 1024
            if k in ("text", "rodata"):
                whole.setdefault(lbl, [0.0, 0.0])[pi] += f
                if a:
                    whole.setdefault("binary private copies", [0.0, 0.0])[pi] += a
            else:
                whole.setdefault(lbl, [0.0, 0.0])[pi] += f + a
    table("component", {k: tuple(v) for k, v in whole.items()}, width=46)
    vm = [int(p.status.get("VmRSS", 0)) for p in procs]
    print(
        f"  (/proc/PID/status now: VmRSS plain {vm[0]:,}, protected {vm[1]:,}, diff {vm[1] - vm[0]:+,};"
        f" read a moment after rss.sh's figures)"
    )
    print("=" * 78)


if __name__ == "__main__":
    main()
