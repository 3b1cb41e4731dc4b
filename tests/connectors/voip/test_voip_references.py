"""References resolved by name, as a full build did it, in a fraction of the time; and
a search through the index that reads one client's files for a client's phonebook."""

from __future__ import annotations

import random
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest
from test_voip_store import _assert_same, _connector, _identifiers, _shape

from connectors.voip.connector import VoipConnector
from connectors.voip.references import Resolver, names_of
from connectors.voip.store import FileIndex
from discover.identifiers import Identifier


def _resolved_one_by_one(target: str, referrer: str, files: list[str]) -> tuple[str | None, int]:
    """The resolution as it was written first: every file of the name compared."""
    if not target:
        return None, 0
    path = unquote(urlsplit(target).path if "://" in target else target)
    name = PurePosixPath(path).name.lower()
    candidates = [f for f in files if PurePosixPath(f).name.lower() == name]
    if len(candidates) <= 1:
        return (candidates[0] if candidates else None), len(candidates)
    directory = PurePosixPath(referrer).parent
    same_dir = [c for c in candidates if PurePosixPath(c).parent == directory]
    if len(same_dir) == 1:
        return same_dir[0], len(candidates)
    tail = [c for c in candidates if path.lower().endswith("/" + c.lower())]
    if len(tail) == 1:
        return tail[0], len(candidates)
    top = referrer.split("/", 1)[0]
    same_top = [c for c in candidates if c.split("/", 1)[0] == top]
    if len(same_top) == 1:
        return same_top[0], len(candidates)
    return None, len(candidates)


@pytest.mark.parametrize("seed", range(5))
def test_the_resolver_resolves_as_every_file_compared(seed: int) -> None:
    chosen = random.Random(seed)
    directories = ["", "acme", "beta", "acme/sub", "Acme", "shared", "beta/x/y"]
    names = ["phonebook.xml", "Phonebook.XML", "common.xml", "part.cfg", "dir.xml"]
    files = sorted(
        {
            str(PurePosixPath(chosen.choice(directories)) / chosen.choice(names))
            for _ in range(chosen.randint(3, 25))
        }
    )
    resolver = Resolver(names_of(files))
    for _ in range(400):
        referrer = str(PurePosixPath(chosen.choice(directories)) / "001565aa0001.cfg")
        where = chosen.choice(["", "/", "/prov/", "/prov/acme/", "/beta/x/y/", "/Acme/sub/"])
        target = chosen.choice(
            [
                f"http://prov.example{where}{chosen.choice(names)}",
                f"{where.lstrip('/')}{chosen.choice(names)}",
                f"tftp://h/{chosen.choice(names)}?x=1",
                "",
            ]
        )
        assert resolver.resolve(target, referrer) == _resolved_one_by_one(
            target, referrer, files
        ), (target, referrer, files)


def _yealink(mac: str, name: str, extension: int, phonebook_url: str) -> str:
    return (
        "#!version:1.0.0.1\n"
        f"account.1.user_name = {extension}\naccount.1.display_name = {name}\n"
        f"account.1.password = secret-{mac}\n"
        f"remote_phonebook.data.1.url = {phonebook_url}\n"
    )


def _phonebook(entries: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<DirectoryEntry><Name>{name}</Name><Telephone>{number}</Telephone></DirectoryEntry>"
        for name, number in entries
    )
    return f"<YealinkIPPhoneDirectory>{body}</YealinkIPPhoneDirectory>"


def _client_phonebooks(root: Path, *, ambiguous: bool = False) -> Path:
    """Clients whose handsets all load the client's own ``phonebook.xml`` and a
    personal phonebook (named by the handset's MAC) with a contact at another client; a handset
    whose directory has none (resolved by the URL's path), one that loads a phonebook
    shared by name once and (``ambiguous``) one whose reference fits several files.

    (Without the index every search names each ambiguous reference; through the index
    only those of the files it reads: see the README's known limits.)"""
    directory = root / "provisioning"
    people = {
        "acme": [("Jan de Vries", "0612345671"), ("Els Bakker", "0612345672")],
        "beta": [("Piet Smit", "0612345673"), ("Anna Mol", "0612345674")],
        "gamma": [("Kees Dam", "0612345675"), ("Zoë Lint", "0612345676")],
    }
    clients = list(people)
    number = 0
    for position, (client, entries) in enumerate(people.items()):
        (directory / client).mkdir(parents=True)
        (directory / client / "phonebook.xml").write_text(_phonebook(entries))
        elsewhere = people[clients[(position + 1) % len(clients)]][0]  # a contact at the next
        for name, _mobile in entries:
            number += 1
            mac = f"001565aa{number:04x}"
            url = f"http://prov.example/{client}/phonebook.xml"
            own = f"http://prov.example/{client}/{mac}-phonebook.xml"
            (directory / client / f"{mac}.cfg").write_text(
                _yealink(mac, name, 200 + number, url) + f"remote_phonebook.data.2.url = {own}\n"
            )
            (directory / client / f"{mac}-phonebook.xml").write_text(_phonebook([elsewhere]))
    (directory / "delta").mkdir()
    (directory / "delta" / "001565bb0001.cfg").write_text(
        _yealink("001565bb0001", "Lot Roos", 301, "http://prov.example/acme/phonebook.xml")
    )
    if ambiguous:
        (directory / "delta" / "001565bb0002.cfg").write_text(
            _yealink("001565bb0002", "Ria Bos", 302, "http://prov.example/other/phonebook.xml")
        )
    (directory / "shared").mkdir()
    (directory / "shared" / "common.xml").write_text(_phonebook([("Helpdesk", "0201234567")]))
    (directory / "gamma" / "001565cc0001.cfg").write_text(
        _yealink("001565cc0001", "Mo Vos", 303, "http://prov.example/common.xml")
    )
    return directory


def test_client_phonebooks_of_one_name_give_what_a_full_pass_gives(tmp_path: Path) -> None:
    directory = _client_phonebooks(tmp_path)
    indexed = _connector(tmp_path, directory, "indexed", index_cache=str(tmp_path / "cache"))
    plain = _connector(tmp_path, directory, "plain", index=False)
    matched = _assert_same(indexed, plain)
    assert matched > 10


def test_a_reference_that_fits_several_files_is_named_and_not_followed(tmp_path: Path) -> None:
    directory = _client_phonebooks(tmp_path, ambiguous=True)
    indexed = _connector(tmp_path, directory, "indexed", index_cache=str(tmp_path / "cache"))
    plain = _connector(tmp_path, directory, "plain", index=False)
    expected = "delta/001565bb0002.cfg: reference 'phonebook.xml' matches 3 files; not followed"
    for connector in (plain, indexed):
        result = connector.scan([Identifier("extension", "delta/302")])
        assert expected in result.warnings
        assert len(result.records) == 1  # the handset, without a phonebook of its own


def _built(tmp_path: Path, directory: Path) -> tuple[VoipConnector, FileIndex]:
    """A connector on ``directory`` with its index built, and the index."""
    indexed = _connector(tmp_path, directory, "indexed", index_cache=str(tmp_path / "cache"))
    indexed.build_index()
    stored = indexed.file_index()
    assert stored is not None
    return indexed, stored


def test_a_client_phonebook_joins_that_clients_handsets_only(tmp_path: Path) -> None:
    directory = _client_phonebooks(tmp_path)
    _indexed, stored = _built(tmp_path, directory)
    # Piet is in beta's phonebook and in acme's personal phonebooks: those and their
    # owners are read, not the owners' other phonebooks nor anything else of acme's
    wanted, _names = stored.candidates([Identifier("phone", "+31612345673")])
    assert wanted == {
        "beta/phonebook.xml",
        "beta/001565aa0003.cfg",
        "beta/001565aa0004.cfg",
        "acme/001565aa0001-phonebook.xml",
        "acme/001565aa0001.cfg",
        "acme/001565aa0002-phonebook.xml",
        "acme/001565aa0002.cfg",
    }
    # Jan is in acme's phonebook (which a delta handset also loads, by the URL's path:
    # its directory has no phonebook.xml) and in gamma's personal phonebooks; two of
    # the phonebook's three handsets settle that it has no owner
    wanted, _names = stored.candidates([Identifier("phone", "+31612345671")])
    assert wanted == {
        "acme/phonebook.xml",
        "acme/001565aa0001.cfg",
        "acme/001565aa0002.cfg",
        "gamma/001565aa0005-phonebook.xml",
        "gamma/001565aa0005.cfg",
        "gamma/001565aa0006-phonebook.xml",
        "gamma/001565aa0006.cfg",
    }
    # a handset's own extension: its handset, both its phonebooks and their owners
    wanted, _names = stored.candidates([Identifier("extension", "beta/203")])
    assert wanted == {
        "beta/001565aa0003.cfg",
        "beta/001565aa0003-phonebook.xml",
        "beta/phonebook.xml",
        "beta/001565aa0004.cfg",
    }


def _one_client(root: Path, handsets: int, *, with_mac: bool = True) -> Path:
    """One client whose ``handsets`` all load its ``phonebook.xml`` (configurations named
    by their MAC, or ``with_mac=False``: named by the extension, no MAC anywhere)."""
    directory = root / "provisioning" / "big"
    directory.mkdir(parents=True)
    entries = [(f"Person {n}", f"06200{n:05d}") for n in range(handsets)]
    (directory / "phonebook.xml").write_text(_phonebook(entries))
    for n in range(handsets):
        name = f"001565ff{n:04x}.cfg" if with_mac else f"phone{300 + n}.cfg"
        url = "http://prov.example/big/phonebook.xml"
        (directory / name).write_text(_yealink("", f"Person {n}", 300 + n, url))
    return directory.parent


def test_a_phonebook_loaded_by_many_handsets_is_read_with_two_of_them(tmp_path: Path) -> None:
    """Whose a phonebook is depends on how many handsets load it: two with different
    MACs settle that it is nobody's, so a client of many handsets costs two reads, not
    one per handset; the records are a full pass's."""
    directory = _one_client(tmp_path, 30)
    indexed, stored = _built(tmp_path, directory)
    wanted, _names = stored.candidates([Identifier("phone", "+31620000007")])
    assert wanted == {"big/phonebook.xml", "big/001565ff0000.cfg", "big/001565ff0001.cfg"}
    # the handset of one of them: its phonebook is read whole, and two others decide
    wanted, _names = stored.candidates([Identifier("extension", "big/307")])
    assert wanted == {
        "big/001565ff0007.cfg",
        "big/phonebook.xml",
        "big/001565ff0000.cfg",
        "big/001565ff0001.cfg",
    }
    plain = _connector(tmp_path, directory, "plain", index=False)
    for identifier in (Identifier("phone", "+31620000007"), Identifier("extension", "big/307")):
        assert _shape(indexed.scan([identifier]))[0] == _shape(plain.scan([identifier]))[0]


def test_handsets_without_a_mac_are_all_read_as_owners(tmp_path: Path) -> None:
    """Configurations without a MAC are not known to be different handsets before they
    are read: every one that loads the phonebook is read."""
    directory = _one_client(tmp_path, 5, with_mac=False)
    _indexed, stored = _built(tmp_path, directory)
    wanted, _names = stored.candidates([Identifier("phone", "+31620000003")])
    assert wanted == {"big/phonebook.xml", *(f"big/phone{300 + n}.cfg" for n in range(5))}


def _random_directory(root: Path, seed: int) -> Path:
    """Clients with handsets that load a client phonebook, a personal phonebook, or one
    named by another client's URL or by the top directory's; some client directories
    without a phonebook of their own, a top-level ``phonebook.xml`` and a name in two
    cases, the contacts drawn from everyone's numbers."""
    chosen = random.Random(seed)
    directory = root / "provisioning"
    numbers = [f"06123{n:05d}" for n in range(40)]
    clients = [f"c{n}" for n in range(6)]
    for client in clients:
        (directory / client).mkdir(parents=True)
        if chosen.random() < 0.7:
            name = chosen.choice(["phonebook.xml", "phonebook.xml", "Phonebook.xml"])
            picked = chosen.sample(numbers, 4)
            (directory / client / name).write_text(
                _phonebook([(f"Person {n[-3:]}", n) for n in picked])
            )
    if chosen.random() < 0.5:
        (directory / "phonebook.xml").write_text(_phonebook([("Reception", numbers[0])]))
    mac = 0
    for client in clients:
        for _ in range(chosen.randint(1, 4)):
            mac += 1
            address = f"001565dd{mac:04x}"
            other = chosen.choice(clients)
            url = chosen.choice(
                [
                    f"http://prov.example/{client}/phonebook.xml",
                    f"http://prov.example/{other}/phonebook.xml",
                    "http://prov.example/phonebook.xml",
                    f"http://prov.example/{client}/{address}-phonebook.xml",
                ]
            )
            config = _yealink(address, f"Handset {mac}", 400 + mac, url)
            if chosen.random() < 0.5:
                own = f"http://prov.example/{client}/{address}-phonebook.xml"
                config += f"remote_phonebook.data.2.url = {own}\n"
                picked = chosen.sample(numbers, 3)
                (directory / client / f"{address}-phonebook.xml").write_text(
                    _phonebook([(f"Contact {n[-3:]}", n) for n in picked])
                )
            (directory / client / f"{address}.cfg").write_text(config)
    _polycom_and_shared_loaders(directory, clients, numbers, chosen)
    return directory


def _polycom_and_shared_loaders(
    directory: Path, clients: list[str], numbers: list[str], chosen: random.Random
) -> None:
    """What decides a phonebook's owner beside MAC-named handsets: a configuration
    without a MAC that loads the client's phonebook (a handset of its own), and Polycom
    masters whose parts (``CONFIG_FILES``) are their own or shared by the client's
    masters, each with a directory named by its MAC."""
    mac = 0
    for position, client in enumerate(clients):
        if chosen.random() < 0.4:
            (directory / client / "common.cfg").write_text(
                _yealink("", f"Reception {client}", 600 + position,
                         f"http://prov.example/{client}/phonebook.xml")
            )  # fmt: skip
        for _ in range(chosen.randint(0, 3)):
            mac += 1
            address = f"001565ee{mac:04x}"
            parts = chosen.choice(
                [[f"phone{mac}.cfg"], ["common-reg.cfg"], [f"phone{mac}.cfg", "common-reg.cfg"]]
            )
            (directory / client / f"{address}-master.cfg").write_text(
                f'<APPLICATION CONFIG_FILES="{", ".join(parts)}"/>'
            )
            (directory / client / f"phone{mac}.cfg").write_text(
                f'<polycomConfig reg.1.address="{700 + mac}"/>'
            )
            (directory / client / "common-reg.cfg").write_text(
                f'<polycomConfig reg.1.address="{800 + position}"/>'
            )
            picked = chosen.sample(numbers, 2)
            items = "".join(f"<item><fn>Contact</fn><ct>{n}</ct></item>" for n in picked)
            (directory / client / f"{address}-directory.xml").write_text(
                f"<directory><item_list>{items}</item_list></directory>"
            )


@pytest.mark.parametrize("seed", range(6))
def test_random_layouts_give_the_records_a_full_pass_gives(tmp_path: Path, seed: int) -> None:
    """Every identifier of a generated directory: the records through the index equal
    a full pass's (the warnings may not: an ambiguous reference is named only for
    the files read, see the README's known limits)."""
    directory = _random_directory(tmp_path, seed)
    indexed = _connector(tmp_path, directory, "indexed", index_cache=str(tmp_path / "cache"))
    plain = _connector(tmp_path, directory, "plain", index=False)
    identifiers = _identifiers(plain)
    assert len(identifiers) > 10
    for identifier in identifiers:
        assert _shape(indexed.scan([identifier]))[0] == _shape(plain.scan([identifier]))[0], (
            identifier
        )
    assert _shape(indexed.scan(identifiers))[0] == _shape(plain.scan(identifiers))[0]
