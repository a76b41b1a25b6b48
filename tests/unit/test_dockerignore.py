""".dockerignore patterns (dockyard.build.ignore), with moby/patternmatcher's semantics."""

import os

import pytest

from dockyard.build.dockerfile import DockerfileError
from dockyard.build.ignore import IgnoreMatcher, clean


def excluded(patterns, path):
    return IgnoreMatcher.from_lines(patterns).excluded(path)


@pytest.mark.parametrize("path,cleaned", [
    ("", "."), (".", "."), ("./", "."), ("a/b/", "a/b"), ("./a//b/./c", "a/b/c"),
    ("a/../b", "b"), ("a/../../b", "../b"), ("/../a", "/a"), ("//a", "/a"), ("/", "/"),
])
def test_clean_is_go_path_clean(path, cleaned):
    assert clean(path) == cleaned


# -- single patterns ----------------------------------------------------------------------

@pytest.mark.parametrize("pattern,path,result", [
    # plain names and parent directories
    ("foo", "foo", True), ("foo", "foo/bar", True), ("foo", "foo/bar/baz", True),
    ("foo", "foobar", False), ("foo", "bar/foo", False),
    ("docs/", "docs/README.md", True), ("./docs", "docs/x", True), ("/docs", "docs/x", True),
    ("a/b", "a/b/c", True), ("a/b", "a/bc", False), ("abc.def", "abcXdef", False),
    # * and ?
    ("*", "anything", True), ("*", "dir/file", True),  # the directory matches
    ("*.go", "main.go", True), ("*.go", "pkg/main.go", False),
    ("*/*.go", "pkg/main.go", True), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a?c", "abc", True), ("a?c", "a/c", False), ("a?c", "ac", False), (".*", ".git", True),
    (".*", "git", False), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    # ** across directories
    ("**", "x", True), ("**", "a/b/c", True),
    ("**/foo", "foo", True), ("**/foo", "a/b/foo", True), ("**/foo", "a/foo/x", True),
    ("**/foo", "a/xfoo", False),
    ("**/*.txt", "file.txt", True), ("**/*.txt", "a/b/file.txt", True), ("**/*.txt", "a/b/file.md", False),
    ("a/**", "a/b", True), ("a/**", "a/b/c", True), ("a/**", "a", False), ("a/**", "ab", False),
    ("a/**/b", "a/b", True), ("a/**/b", "a/x/y/b", True), ("a/**/b", "a/x/y/c", False),
    ("**/dir2/*", "dir/dir2/file", True), ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True), ("**file", "dir/myfile", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False), ("**/", "anything/at/all", True),
    # character classes
    ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False), ("a[^b-d]e", "aze", True),
    ("a[^b-d]e", "ace", False), ("ab[c]", "abc", True), ("ab[e-g]", "abc", False),
    ("[\\]a]", "]", True), ("[\\-]", "-", True), ("[x\\-]", "-", True), ("[x\\-]", "z", False),
    ("[a-ζ]*", "α", True), ("a[^a]b", "a☺b", True), ("a?b", "a☺b", True), ("file[0-9].log", "file7.log", True),
    ("[*]", "*", True), ("[*]", "x", False), ("[z-a]", "z", False), ("[^z-a]", "q", True),
    # escapes and regex metacharacters are literal
    ("a\\*b", "a*b", True), ("a\\*b", "axb", False), ("a\\\\", "a\\", True),
    ("a(b)c/def", "a(b)c/def", True), ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
])
def test_pattern(pattern, path, result):
    assert excluded([pattern], path) is result


@pytest.mark.parametrize("path", [".", "", "./", "/"])
def test_context_root_is_never_excluded(path):
    assert excluded(["*", "**", "."], path) is False


def test_paths_are_cleaned_before_matching():
    m = IgnoreMatcher.from_lines(["secret"])
    assert m.excluded("./secret") and m.excluded("/secret/x") and m.excluded("a/../secret")


# -- exceptions and ordering -----------------------------------------------------------------

@pytest.mark.parametrize("patterns,path,result", [
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["!README.md", "*.md"], "README.md", True),  # the last match wins
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs", "!docs/README.md"], "docs/other.md", True),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/x-1.0-py3-none-any.whl", False),
    (["**", "!Dockerfile", "!src"], "src/main.py", False),
    (["**", "!Dockerfile", "!src"], "tests/t.py", True),
    (["node_modules", "!node_modules/keep"], "node_modules/keep/index.js", False),
    (["!keep", "keep/**"], "keep/x", True),
])
def test_exceptions(patterns, path, result):
    assert excluded(patterns, path) is result


# -- reading the file ----------------------------------------------------------------------------

def test_comments_blank_lines_and_whitespace():
    m = IgnoreMatcher.from_lines([
        "\ufeff# a comment", "", "   ", "  *.log  ", "# *.txt", " # not a comment", "! keep.log", "\r",
    ])
    assert m.excluded("a.log") and not m.excluded("keep.log")
    assert not m.excluded("a.txt")
    assert m.excluded(" # not a comment".strip())


def test_leading_slash_and_dot_slash_are_stripped():
    m = IgnoreMatcher.from_lines(["/build", "./dist/", "!/build/keep"])
    assert m.excluded("build/x") and m.excluded("dist/y") and not m.excluded("build/keep")


def test_from_file(tmp_path):
    path = tmp_path / ".dockerignore"
    path.write_bytes(b"\xef\xbb\xbf*.pyc\r\n.git\r\n!important.pyc\n")
    m = IgnoreMatcher.from_file(str(path))
    assert m.excluded("a.pyc") and m.excluded(".git/HEAD") and not m.excluded("important.pyc")
    assert not m.excluded("a.py")


def test_missing_file_matches_nothing(tmp_path):
    m = IgnoreMatcher.from_file(str(tmp_path / "absent"))
    assert not m and not m.excluded("anything") and not m.may_have_included_children("x")


def test_unreadable_file_is_an_error(tmp_path):
    with pytest.raises(DockerfileError, match="failed to read"):
        IgnoreMatcher.from_file(str(tmp_path))  # a directory


@pytest.mark.parametrize("pattern", ["[", "a[", "[^", "[^bc", "[]a]", "[-]", "[x-]", "[-x]",
                                     "[a-b-c]", "a\\", "[\\"])
def test_bad_patterns_are_errors_with_the_line(pattern):
    with pytest.raises(DockerfileError) as e:
        IgnoreMatcher.from_lines(["# first", "ok", pattern])
    assert "syntax error in pattern" in str(e.value)
    assert str(e.value).startswith(".dockerignore:3: ")


def test_lone_exclamation_mark_is_an_error():
    with pytest.raises(DockerfileError, match='illegal exclusion pattern: "!"'):
        IgnoreMatcher.from_lines(["!"])


# -- pruning a walk -------------------------------------------------------------------------------

@pytest.mark.parametrize("patterns,directory,result", [
    (["docs"], "docs", False),                         # no exceptions at all
    (["docs", "!docs/README.md"], "docs", True),
    (["docs", "!docs/README.md"], "other", False),
    (["docs", "!docs/sub/keep"], "docs/sub", True),
    (["docs", "!docs/sub/keep"], "docs/other", False),
    (["docs", "!docs/*/keep"], "docs/any", True),
    (["docs", "!docs/[a-c]*/keep"], "docs/zzz", False),
    (["**", "!**/keep"], "deep/down/here", True),
    (["**", "!src"], "src/pkg", True),                  # an exception on an ancestor
    (["**", "!src"], "tests", False),
])
def test_may_have_included_children(patterns, directory, result):
    assert IgnoreMatcher.from_lines(patterns).may_have_included_children(directory) is result


def _walk(root, matcher):
    """A pruning walk as a builder would do it: the files a build may see."""
    seen = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel + "/"
        keep = []
        for d in sorted(dirnames):
            if matcher.excluded(rel + d) and not matcher.may_have_included_children(rel + d):
                continue
            keep.append(d)
        dirnames[:] = keep
        seen += [rel + f for f in sorted(filenames) if not matcher.excluded(rel + f)]
    return sorted(seen)


def test_pruning_walk_agrees_with_matching_every_path(tmp_path):
    files = ["Dockerfile", "README.md", "docs/a.md", "docs/keep/b.md", "docs/keep/c.txt",
             "node_modules/x/index.js", "src/main.py", "src/main.pyc", "src/sub/util.py", ".git/HEAD"]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("x")
    matcher = IgnoreMatcher.from_lines(["**/*.pyc", ".git", "node_modules", "docs", "!docs/keep/*.md",
                                        "*.md", "!README.md"])
    expected = sorted(f for f in files if not matcher.excluded(f))
    assert _walk(tmp_path, matcher) == expected
    assert expected == ["Dockerfile", "README.md", "docs/keep/b.md", "src/main.py", "src/sub/util.py"]
