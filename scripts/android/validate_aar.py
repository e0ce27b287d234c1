#!/usr/bin/env python3
"""Validates the Android package: the AAR and, with --maven-repo, its Maven layout.

Everything a host app's build (AGP, R8) or Android itself would trip over
later is checked here, where it is cheap to see:
  entries      AndroidManifest.xml, classes.jar, R.txt, proguard.txt and the
               AAR metadata are there; a check build carries its marker and no
               native code at all, a release build a libutd_stream.so per ABI
  classes      every class at the class-file version of --jvm-target; only
               com/utdstream/** (the stdlib, JNA and coroutines come as Maven
               dependencies, bundling them would clash); a named Kotlin module;
               the bindings' `native` methods are exactly the `external fun`s
               of the generated Kotlin, and the symbols it looks up by name
               (libffi calls) are string constants in the jar (so the symbol
               check below checks what ships)
  manifest     parses; minSdk as expected; the self-managed ConnectionService
               is declared, exported, guarded by BIND_TELECOM_CONNECTION_SERVICE,
               filters android.telecom.ConnectionService and, with MANAGE_OWN_CALLS;
               every component class is in classes.jar and extends the right
               framework class; each foreground-service type has its permission
  proguard     the consumer rules keep JNA and the bindings' JNA classes
  native       each .so (native_rules.py): ABI, NEEDED, symbol versions,
               alignment, and every symbol the bindings call
  maven        (validate_maven.py) POM and Gradle module metadata

Prints one line per check and `validator: N passed, N failed`; exits 1 on any failure.
"""

import argparse
import io
import re
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import classfile  # noqa: E402
import native_rules  # noqa: E402
import validate_maven  # noqa: E402
from layout import CHECK_MARKER, FFI_NAMESPACE, LIBRARY, SHIPPED_ABIS  # noqa: E402

ANDROID = "{http://schemas.android.com/apk/res/android}"
REQUIRED_ENTRIES = ("AndroidManifest.xml", "classes.jar", "R.txt", "proguard.txt",
                    "META-INF/com/android/build/gradle/aar-metadata.properties")
# Manifest tag -> the framework class its android:name must extend.
COMPONENT_BASES = {
    "service": "android/app/Service",
    "receiver": "android/content/BroadcastReceiver",
    "activity": "android/app/Activity",
    "provider": "android/content/ContentProvider",
}
CONNECTION_SERVICE = "android/telecom/ConnectionService"
EXTERNAL_FUN = re.compile(r"\bexternal\s+fun\s+`?([A-Za-z_][A-Za-z0-9_]*)`?\s*\(")
# A string literal that is exactly one of the crate's C symbol names: a
# function the bindings look up by name at run time (scripts/kotlin_postprocess.py
# routes the RustBuffer-by-value calls through libffi that way).
SYMBOL_LITERAL = re.compile(rf'"((?:ffi|uniffi)_{FFI_NAMESPACE}_[A-Za-z0-9_]+)"')


def direct_symbols(kotlin_source):
    """The symbols bound by JNA's direct mapping: one per `external fun`."""
    return sorted(set(EXTERNAL_FUN.findall(kotlin_source)))


def by_name_symbols(kotlin_source):
    """The symbols the bindings look up by name (string literals)."""
    return sorted(set(SYMBOL_LITERAL.findall(kotlin_source)))


def ffi_symbols(kotlin_source):
    """Every C symbol the generated bindings call: each must be exported by the library."""
    return sorted(set(direct_symbols(kotlin_source)) | set(by_name_symbols(kotlin_source)))


def class_major(jvm_target):
    # 1.8 -> 52, 11 -> 55, 17 -> 61.
    target = int(str(jvm_target).removeprefix("1."))
    return 44 + target


class Report:
    def __init__(self):
        self.results = []

    def add(self, name, problems):
        self.results.append((name, list(problems)))

    @property
    def failed(self):
        return [name for name, problems in self.results if problems]

    def print(self, out=sys.stdout):
        for name, problems in self.results:
            print(f"{'ok  ' if not problems else 'FAIL'}  {name}", file=out)
            for problem in problems:
                print(f"        - {problem}", file=out)
        passed = len(self.results) - len(self.failed)
        print(f"validator: {passed} passed, {len(self.failed)} failed", file=out)


class ClassResolver:
    """Finds classes by internal name: the AAR's own first, then the compile classpath."""

    def __init__(self, own, classpath=()):
        self.own = own
        self.jars = [zipfile.ZipFile(p) for p in classpath]

    def find(self, name):
        if name in self.own:
            return self.own[name]
        for jar in self.jars:
            try:
                return classfile.parse(jar.read(name + ".class"))
            except KeyError:
                continue
        return None

    def extends(self, name, base):
        """Whether `name` is `base` or a subclass of it; None if the chain leaves what is known."""
        seen = set()
        while name and name not in seen:
            if name == base:
                return True
            if name == "java/lang/Object":
                return False
            seen.add(name)
            info = self.find(name)
            if info is None:
                return None
            name = info.super_name
        return False


def check_entries(names, mode):
    problems = [f"missing {entry}" for entry in REQUIRED_ENTRIES if entry not in names]
    libraries = [n for n in names if n.endswith(".so")]
    if mode == "check":
        if CHECK_MARKER not in names:
            problems.append(f"a check build must carry {CHECK_MARKER}")
        # A check build is made where no NDK exists: any .so in it can only be
        # a desktop library, which must never reach an AAR.
        problems += [f"native library in a check build: {n}" for n in libraries]
        problems += [f"jni/ entry in a check build: {n}" for n in names if n.startswith("jni/")]
    else:
        if CHECK_MARKER in names:
            problems.append(f"{CHECK_MARKER} in a release build: this AAR came from a check build")
        for abi in SHIPPED_ABIS:
            if f"jni/{abi}/{LIBRARY}" not in names:
                problems.append(f"missing jni/{abi}/{LIBRARY}")
        for n in libraries:
            parts = n.split("/")
            if len(parts) != 3 or parts[0] != "jni":
                problems.append(f"native library outside jni/<abi>/: {n}")
            elif parts[1] not in SHIPPED_ABIS:
                problems.append(f"native library for an ABI the package does not ship: {n}")
    return problems


def check_metadata(text):
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    problems = [f"aar-metadata.properties: {key} should be 1.0"
                for key in ("aarFormatVersion", "aarMetadataVersion") if values.get(key) != "1.0"]
    if not values.get("minCompileSdk", "").isdigit():
        problems.append("aar-metadata.properties: minCompileSdk is not a number")
    return problems


def check_classes(jar_bytes, jvm_target, kotlin_source):
    """Returns (problems, {internal name: ClassInfo})."""
    problems, classes = [], {}
    major = class_major(jvm_target)
    try:
        jar = zipfile.ZipFile(io.BytesIO(jar_bytes))
    except zipfile.BadZipFile as e:
        return [f"classes.jar is not a zip: {e}"], classes
    names = jar.namelist()
    wrong_version = []
    for name in names:
        if not name.endswith(".class"):
            continue
        if name.startswith("META-INF/versions/"):
            problems.append(f"multi-release class {name}: Android ignores META-INF/versions")
            continue
        try:
            info = classfile.parse(jar.read(name))
        except classfile.ClassFileError as e:
            problems.append(f"{name}: {e}")
            continue
        classes[info.name] = info
        if info.major != major:
            wrong_version.append(f"{name} ({info.major})")
        if not info.name.startswith("com/utdstream/"):
            problems.append(f"bundled foreign class {name}: it must come as a dependency")
    if not classes:
        problems.append("classes.jar holds no classes")
    if wrong_version:
        problems.append(f"{len(wrong_version)} class(es) not at class-file version {major} "
                        f"(jvm target {jvm_target}): {', '.join(wrong_version[:5])}")
    modules = [n for n in names if n.startswith("META-INF/") and n.endswith(".kotlin_module")]
    if not modules:
        problems.append("no META-INF/*.kotlin_module (top-level Kotlin functions would be invisible)")
    problems += [f"{n}: the default module name collides with other libraries in the app (pass -module-name)"
                 for n in modules if n == "META-INF/main.kotlin_module"]
    natives, strings = set(), set()
    for info in classes.values():
        natives.update(info.native_methods())
        strings.update(info.strings)
    direct, by_name = set(direct_symbols(kotlin_source)), set(by_name_symbols(kotlin_source))
    if not direct:
        problems.append("the generated bindings declare no `external fun` (wrong file?)")
    elif natives != direct:
        only_kt, only_jar = sorted(direct - natives), sorted(natives - direct)
        problems.append(f"the bindings given do not match classes.jar: {len(only_kt)} native method(s) "
                        f"only in the Kotlin ({', '.join(only_kt[:3])}), {len(only_jar)} only in the jar "
                        f"({', '.join(only_jar[:3])})")
    if by_name - strings:
        missing = sorted(by_name - strings)
        problems.append(f"the bindings given do not match classes.jar: {len(missing)} symbol(s) looked up "
                        f"by name are not in the jar ({', '.join(missing[:3])})")
    return problems, classes


def _component_class(package, name):
    if name.startswith("."):
        name = package + name
    elif "." not in name:
        name = f"{package}.{name}"
    return name.replace(".", "/")


def check_manifest(xml_bytes, resolver, min_sdk):
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as e:
        return [f"AndroidManifest.xml does not parse: {e}"]
    if root.tag != "manifest":
        return [f"root element is <{root.tag}>, not <manifest>"]
    problems = []
    package = root.get("package", "")
    if not package:
        problems.append("<manifest> has no package attribute (AGP reads the namespace from it)")
    sdk = root.find("uses-sdk")
    declared_min = sdk.get(ANDROID + "minSdkVersion") if sdk is not None else None
    if declared_min != str(min_sdk):
        problems.append(f"minSdkVersion is {declared_min}, expected {min_sdk} (the D8 --min-api)")
    permissions = {p.get(ANDROID + "name") for p in root.findall("uses-permission")}
    for needed in ("android.permission.INTERNET", "android.permission.RECORD_AUDIO",
                   "android.permission.MANAGE_OWN_CALLS"):
        if needed not in permissions:
            problems.append(f"missing <uses-permission> {needed}")
    application = root.find("application")
    components = [] if application is None else [c for c in application if c.tag in COMPONENT_BASES]
    connection_services = []
    for component in components:
        name = component.get(ANDROID + "name", "")
        internal = _component_class(package, name)
        base = COMPONENT_BASES[component.tag]
        if internal not in resolver.own:
            problems.append(f"<{component.tag}> {name}: class not in classes.jar")
        else:
            ok = resolver.extends(internal, base)
            if ok is None:
                problems.append(f"<{component.tag}> {name}: superclass chain cannot be resolved to {base}")
            elif not ok:
                problems.append(f"<{component.tag}> {name} does not extend {base}")
        actions = {a.get(ANDROID + "name") for a in component.iter("action")}
        if component.tag == "service" and (
                component.get(ANDROID + "permission") == "android.permission.BIND_TELECOM_CONNECTION_SERVICE"
                or "android.telecom.ConnectionService" in actions):
            connection_services.append((component, name, internal, actions))
        for kind in filter(None, (component.get(ANDROID + "foregroundServiceType") or "").split("|")):
            permission = "android.permission.FOREGROUND_SERVICE_" + re.sub(r"(?<!^)([A-Z])", r"_\1", kind).upper()
            if permission not in permissions:
                problems.append(f"<service> {name} has foregroundServiceType {kind} but no {permission} "
                                "(SecurityException on API 34+)")
    if not connection_services:
        problems.append("no ConnectionService declared (a <service> guarded by BIND_TELECOM_CONNECTION_SERVICE)")
    for component, name, internal, actions in connection_services:
        if component.get(ANDROID + "permission") != "android.permission.BIND_TELECOM_CONNECTION_SERVICE":
            problems.append(f"{name}: android:permission must be BIND_TELECOM_CONNECTION_SERVICE")
        if "android.telecom.ConnectionService" not in actions:
            problems.append(f"{name}: no intent-filter action android.telecom.ConnectionService")
        if component.get(ANDROID + "exported") != "true":
            problems.append(f"{name}: must be exported (Telecom binds it from its own process)")
        if internal in resolver.own:
            ok = resolver.extends(internal, CONNECTION_SERVICE)
            if ok is None:
                problems.append(f"{name}: superclass chain cannot be resolved to {CONNECTION_SERVICE}")
            elif not ok:
                problems.append(f"{name} does not extend android.telecom.ConnectionService")
    return problems


# Each rule the consumer file must keep, as a pattern and why.
PROGUARD_RULES = [
    (r"-keep\s+class\s+com\.sun\.jna\.\*\*", "JNA's own classes (its native part finds them by name)"),
    (r"com\.sun\.jna\.Structure", "the bindings' Structure classes (fields read by reflection)"),
    (r"com\.sun\.jna\.Callback", "the bindings' Callback interfaces and implementations"),
    (r"com\.sun\.jna\.Library", "Library interfaces (JNA proxies them by method name)"),
    (r"native\s+<methods>", "the bindings' native methods (direct mapping binds them by name)"),
    (r"-dontwarn\s+java\.awt\.", "JNA's AWT helpers (absent on Android)"),
]


def check_proguard(text):
    return [f"consumer rules do not keep {why}" for pattern, why in PROGUARD_RULES
            if not re.search(pattern, text)]


def check_native(aar, symbols, min_sdk):
    """One (name, problems) result per library under jni/."""
    results = []
    libraries = sorted(n for n in aar.namelist() if n.startswith("jni/") and n.endswith(".so"))
    for name in libraries:
        parts = name.split("/")
        if len(parts) != 3:
            continue
        abi, file_name = parts[1], parts[2]
        siblings = {n.split("/")[2] for n in libraries if n.startswith(f"jni/{abi}/") and n != name}
        required = symbols if file_name == LIBRARY else ()
        results.append((f"native {abi}/{file_name}",
                        native_rules.check_library(aar.read(name), abi, required, min_sdk, siblings)))
    return results


def validate(aar_path, mode, bindings_source, jvm_target=11, min_sdk=26, classpath=()):
    """Validates the AAR at aar_path; returns a Report."""
    report = Report()
    symbols = ffi_symbols(bindings_source)
    try:
        aar = zipfile.ZipFile(aar_path)
    except (OSError, zipfile.BadZipFile) as e:
        report.add("aar opens as a zip", [str(e)])
        return report
    with aar:
        names = set(aar.namelist())
        report.add(f"entries ({mode} build)", check_entries(names, mode))
        meta = REQUIRED_ENTRIES[4]
        if meta in names:
            report.add("aar metadata", check_metadata(aar.read(meta).decode("utf-8", "replace")))
        classes = {}
        if "classes.jar" in names:
            problems, classes = check_classes(aar.read("classes.jar"), jvm_target, bindings_source)
            report.add(f"classes.jar ({len(classes)} classes, jvm target {jvm_target}, {len(symbols)} native "
                       f"symbols: {len(direct_symbols(bindings_source))} direct, "
                       f"{len(by_name_symbols(bindings_source))} by name)", problems)
        if "AndroidManifest.xml" in names:
            resolver = ClassResolver(classes, classpath)
            report.add("AndroidManifest.xml", check_manifest(aar.read("AndroidManifest.xml"), resolver, min_sdk))
        if "proguard.txt" in names:
            report.add("consumer ProGuard rules", check_proguard(aar.read("proguard.txt").decode("utf-8", "replace")))
        for name, problems in check_native(aar, symbols, min_sdk):
            report.add(name, problems)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aar", required=True)
    parser.add_argument("--mode", choices=("check", "release"), required=True)
    parser.add_argument("--bindings", required=True, help="the generated Android Kotlin bindings compiled into the AAR")
    parser.add_argument("--jvm-target", default="11")
    parser.add_argument("--min-sdk", type=int, default=26)
    parser.add_argument("--classpath", default="", help="':'-separated jars to resolve framework superclasses")
    parser.add_argument("--maven-repo", help="also validate this Maven repository layout")
    parser.add_argument("--version", help="the Maven version expected (with --maven-repo)")
    args = parser.parse_args(argv)
    source = Path(args.bindings).read_text(encoding="utf-8")
    classpath = [p for p in args.classpath.split(":") if p]
    report = validate(args.aar, args.mode, source, args.jvm_target, args.min_sdk, classpath)
    if args.maven_repo:
        for name, problems in validate_maven.validate(args.maven_repo, args.version, args.aar, args.mode):
            report.add(name, problems)
    report.print()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
