"""The message table in evrepl/_schema.py must say exactly what proto/*.proto say."""

import re
import unittest

from support import PROTO_DIR  # noqa: F401  (also puts the package on sys.path)

from evrepl import _schema  # noqa: E402

_TOKEN = re.compile(r'"[^"]*"|[A-Za-z_][\w.]*|\d+|[{}();=<>,\[\]]')
_SCALAR_BY_TYPE = {v: k for k, v in _schema.SCALARS.items()}


def _tokens(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return _TOKEN.findall(text)


class ProtoFile:
    """A deliberately small parser of the proto3 subset proto/ uses: package, import,
    message (nested message/enum, scalar, repeated, map fields), enum, service/rpc."""

    def __init__(self, text):
        self.t = _tokens(text)
        self.i = 0
        self.package = ""
        self.imports = []
        self.messages = {}  # full name -> {field name: (number, repeated?, type as written, scope)}
        self.enums = {}  # full name -> {value name: number}
        self.services = {}  # full name -> {method: (input as written, output as written)}
        while self.i < len(self.t):
            self._top()

    def _next(self):
        tok = self.t[self.i]
        self.i += 1
        return tok

    def _expect(self, want):
        tok = self._next()
        if tok != want:
            raise ValueError(f"expected {want!r}, got {tok!r} at token {self.i}")

    def _skip_statement(self):
        while self._next() != ";":
            pass

    def _top(self):
        tok = self._next()
        if tok == "syntax":
            self._skip_statement()
        elif tok == "package":
            self.package = self._next()
            self._expect(";")
        elif tok == "import":
            self.imports.append(self._next().strip('"'))
            self._expect(";")
        elif tok == "option":
            self._skip_statement()
        elif tok == "message":
            self._message(self.package)
        elif tok == "enum":
            self._enum(self.package)
        elif tok == "service":
            self._service()
        else:
            raise ValueError(f"unexpected {tok!r}")

    def _message(self, scope):
        name = f"{scope}.{self._next()}"
        self._expect("{")
        fields = self.messages.setdefault(name, {})
        while True:
            tok = self._next()
            if tok == "}":
                return
            if tok == "message":
                self._message(name)
            elif tok == "enum":
                self._enum(name)
            elif tok in ("option", "reserved"):
                self._skip_statement()
            elif tok == "map":
                self._expect("<")
                k = self._next()
                self._expect(",")
                v = self._next()
                self._expect(">")
                fname = self._next()
                self._expect("=")
                num = int(self._next())
                self._expect(";")
                fields[fname] = (num, True, f"map<{k},{v}>", name)
            else:
                repeated = tok == "repeated"
                ftype = self._next() if repeated else tok
                fname = self._next()
                self._expect("=")
                num = int(self._next())
                tok = self._next()
                if tok == "[":
                    while self._next() != "]":
                        pass
                    tok = self._next()
                if tok != ";":
                    raise ValueError(f"field {fname}: expected ';'")
                fields[fname] = (num, repeated, ftype, name)

    def _enum(self, scope):
        name = f"{scope}.{self._next()}"
        self._expect("{")
        values = self.enums.setdefault(name, {})
        while True:
            tok = self._next()
            if tok == "}":
                return
            if tok == "option":
                self._skip_statement()
                continue
            self._expect("=")
            values[tok] = int(self._next())
            self._expect(";")

    def _service(self):
        name = f"{self.package}.{self._next()}"
        self._expect("{")
        methods = self.services.setdefault(name, {})
        while True:
            tok = self._next()
            if tok == "}":
                return
            if tok != "rpc":
                raise ValueError(f"unexpected {tok!r} in service {name}")
            meth = self._next()
            self._expect("(")
            req = self._next()
            self._expect(")")
            self._expect("returns")
            self._expect("(")
            resp = self._next()
            self._expect(")")
            tok = self._next()
            if tok == "{":
                while self._next() != "}":
                    pass
            elif tok != ";":
                raise ValueError(f"rpc {meth}: expected ';'")
            methods[meth] = (req, resp)


def _resolve(type_name, scope, package, enums, messages):
    """Full name of a type as protoc resolves it: innermost scope outwards."""
    if type_name in _schema.SCALARS or type_name.startswith("map<"):
        return type_name
    if "." in type_name and (type_name in enums or type_name in messages or type_name.startswith("google.")):
        return type_name
    parts = scope.split(".")
    while parts:
        cand = ".".join(parts + [type_name])
        if cand in enums or cand in messages:
            return cand
        parts.pop()
    return type_name


def _from_protos():
    files = {}
    for path in sorted(PROTO_DIR.rglob("*.proto")):
        files[path.relative_to(PROTO_DIR).as_posix()] = ProtoFile(path.read_text())
    enums, messages = {}, {}
    for pf in files.values():
        enums.update(pf.enums)
        messages.update(pf.messages)
    out_msgs, out_enums, out_services = {}, dict(enums), {}
    for pf in files.values():
        for mname, fields in pf.messages.items():
            out_msgs[mname] = {
                f: (num, rep, _resolve(t, scope, pf.package, enums, messages))
                for f, (num, rep, t, scope) in fields.items()
            }
        for sname, methods in pf.services.items():
            out_services[sname] = {
                m: (_resolve(a, pf.package, pf.package, enums, messages),
                    _resolve(b, pf.package, pf.package, enums, messages))
                for m, (a, b) in methods.items()
            }
    return files, out_msgs, out_enums, out_services


def _field_type(fd):
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        k, v = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
        return f"map<{_field_type(k)},{_field_type(v)}>"
    if fd.message_type is not None:
        return fd.message_type.full_name
    if fd.enum_type is not None:
        return fd.enum_type.full_name
    return _SCALAR_BY_TYPE[fd.type]


def _from_pool(file_names):
    msgs, enums, services = {}, {}, {}

    def walk_msg(md):
        if md.GetOptions().map_entry:
            return
        msgs[md.full_name] = {
            fd.name: (fd.number, fd.label == fd.LABEL_REPEATED, _field_type(fd)) for fd in md.fields
        }
        for ed in md.enum_types:
            enums[ed.full_name] = {v.name: v.number for v in ed.values}
        for nested in md.nested_types:
            walk_msg(nested)

    for name in file_names:
        fd = _schema.POOL.FindFileByName(name)
        for md in fd.message_types_by_name.values():
            walk_msg(md)
        for ed in fd.enum_types_by_name.values():
            enums[ed.full_name] = {v.name: v.number for v in ed.values}
        for sd in fd.services_by_name.values():
            services[sd.full_name] = {m.name: (m.input_type.full_name, m.output_type.full_name) for m in sd.methods}
    return msgs, enums, services


class SchemaSyncTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files, cls.msgs, cls.enums, cls.services = _from_protos()
        cls.pool_msgs, cls.pool_enums, cls.pool_services = _from_pool(list(cls.files))

    def test_same_files(self):
        self.assertEqual(sorted(self.files), sorted(f["name"] for f in _schema.FILES))
        for f in _schema.FILES:
            pf = self.files[f["name"]]
            self.assertEqual(pf.package, f["package"], f["name"])
            self.assertEqual(sorted(pf.imports), sorted(f["deps"]), f["name"])

    def test_same_messages_and_fields(self):
        self.assertEqual(sorted(self.msgs), sorted(self.pool_msgs))
        for name, fields in self.msgs.items():
            self.assertEqual(fields, self.pool_msgs[name], f"message {name}")

    def test_same_enums(self):
        self.assertEqual(self.enums, self.pool_enums)

    def test_same_services(self):
        self.assertEqual(self.services, self.pool_services)

    def test_parser_sees_the_contract(self):
        # Guards the parser itself: a few facts of contract.md, so that a parser that reads
        # nothing cannot make the comparisons above pass vacuously.
        self.assertEqual(self.msgs["evrepl.rpc.v1.Request"]["metadata"], (4, True, "map<string,string>"))
        self.assertEqual(self.msgs["evrepl.v1.ReplicationReceipt"]["timestamp"],
                         (4, False, "google.protobuf.Timestamp"))
        self.assertEqual(self.enums["evrepl.v1.HealthCheckResponse.ServingStatus"]["SERVICE_UNKNOWN"], 3)
        self.assertEqual(self.services["evrepl.v1.Health"]["Check"],
                         ("evrepl.v1.HealthCheckRequest", "evrepl.v1.HealthCheckResponse"))
        self.assertEqual(len(self.msgs["evrepl.v1.ReplicaVerification"]), 13)


if __name__ == "__main__":
    unittest.main()
