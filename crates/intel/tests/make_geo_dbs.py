#!/usr/bin/env python3
"""Write two small MaxMind-format databases for the GeoIP tests and benchmark.

Usage: make_geo_dbs.py OUTPUT_DIR [--edition N] [--bulk N]

OUTPUT_DIR/city.mmdb  GeoIP2-City layout: city, continent, country, subdivisions, location
OUTPUT_DIR/asn.mmdb   GeoLite2-ASN layout: autonomous_system_number/_organization
Both are IPv6 trees that also answer IPv4 (as the vendors' files do). The names and
numbers are made up for the tests. --edition changes the city names (to test reloads);
--bulk adds N further /16 networks from 11.0.0.0 upwards (for the benchmark; 54272
covers 11.0.0.0 to 222.255.255.255).
Needs `pip install mmdb-writer`.
"""
import sys

try:
    from mmdb_writer import MMDBWriter, MmdbF64, MmdbU32
    from netaddr import IPSet
except ImportError:
    print("the GeoIP tests need the mmdb-writer package: pip install mmdb-writer", file=sys.stderr)
    sys.exit(3)


def city(name, country_code, country, continent, region_code, region, lat, lon):
    return {
        "city": {"geoname_id": MmdbU32(1), "names": {"en": name, "fr": name + " (fr)"}},
        "continent": {"code": continent[:2].upper(), "names": {"en": continent}},
        "country": {"iso_code": country_code, "names": {"en": country}},
        "subdivisions": [{"iso_code": region_code, "names": {"en": region}}],
        "location": {"latitude": MmdbF64(lat), "longitude": MmdbF64(lon), "accuracy_radius": MmdbU32(20)},
    }


def main() -> int:
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    out = args[0]
    edition = int(args[args.index("--edition") + 1]) if "--edition" in args else 1
    bulk = int(args[args.index("--bulk") + 1]) if "--bulk" in args else 0
    suffix = "" if edition == 1 else " %d" % edition

    cities = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City", languages=["en", "fr"], description="intake test cities")
    cities.insert_network(IPSet(["81.2.69.0/24"]), city("Tarnvik" + suffix, "SE", "Sweden", "Europe", "AB", "Stockholm County", 59.3251, 18.0711))
    cities.insert_network(IPSet(["2a02:cf40::/32"]), city("Fjellby" + suffix, "NO", "Norway", "Europe", "46", "Vestland", 60.3913, 5.3221))
    # A record without a city or subdivisions: only the country's fields appear.
    cities.insert_network(IPSet(["175.16.199.0/24"]), {"country": {"iso_code": "CN", "names": {"en": "China"}}, "continent": {"names": {"en": "Asia"}}})
    asns = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN", languages=["en"], description="intake test ASNs")
    asns.insert_network(IPSet(["81.2.64.0/20"]), {"autonomous_system_number": MmdbU32(64512), "autonomous_system_organization": "Nordic Example Transit"})
    asns.insert_network(IPSet(["2a02:cf40::/32"]), {"autonomous_system_number": MmdbU32(64513), "autonomous_system_organization": "Fjord Example Net"})
    for i in range(bulk):
        first, second = 11 + i // 256, i % 256
        if first in (81, 100, 127, 169, 172, 192, 198, 203):
            continue
        net = IPSet(["%d.%d.0.0/16" % (first, second)])
        cities.insert_network(net, city("Town %d" % i, "FR", "France", "Europe", "IDF", "Île-de-France", 48.0 + i % 10 / 10, 2.0 + i % 7 / 10))
        asns.insert_network(net, {"autonomous_system_number": MmdbU32(65000 + i % 500), "autonomous_system_organization": "Carrier %d" % (i % 500)})
    cities.to_db_file(out + "/city.mmdb")
    asns.to_db_file(out + "/asn.mmdb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
