"""Word lists for generated container names: a mood, and someone who built something
the field stands on (computing, operating systems, mathematics, physics)."""

ADJECTIVES = (
    "agile", "amazing", "bold", "brave", "bright", "busy", "calm", "careful", "cheerful",
    "clever", "cool", "curious", "daring", "dazzling", "eager", "earnest", "elegant",
    "epic", "fervent", "festive", "fond", "friendly", "gallant", "gentle", "gifted",
    "happy", "hardy", "honest", "hopeful", "humble", "inspiring", "jolly", "keen",
    "kind", "lively", "loving", "lucid", "merry", "mighty", "modest", "nice", "nimble",
    "noble", "patient", "peaceful", "plucky", "polite", "proud", "quick", "quiet",
    "relaxed", "serene", "sharp", "shiny", "silly", "sleepy", "smart", "steady",
    "stoic", "sunny", "sweet", "swift", "tender", "thirsty", "trusting", "upbeat",
    "vibrant", "vigilant", "warm", "wise", "witty", "youthful", "zealous", "zen",
)

SURNAMES = (
    "allen", "babbage", "backus", "bell", "berners_lee", "bohr", "boole", "borg",
    "brooks", "cantor", "carmack", "cerf", "church", "codd", "conway", "corbato",
    "cray", "curie", "darwin", "dijkstra", "einstein", "engelbart", "euclid", "euler",
    "faraday", "fermat", "fermi", "feynman", "floyd", "gauss", "godel", "goldberg",
    "hamilton", "hamming", "hawking", "hellman", "hilbert", "hoare", "hopper",
    "huffman", "kahan", "kay", "kepler", "kernighan", "knuth", "lamport", "lamarr",
    "liskov", "lovelace", "mccarthy", "mcilroy", "maxwell", "meitner", "minsky",
    "moore", "morse", "napier", "naur", "neumann", "newton", "noether", "nygaard",
    "pascal", "perlman", "pike", "planck", "postel", "ramanujan", "ritchie", "rivest",
    "shamir", "shannon", "sutherland", "tanenbaum", "tarjan", "thompson", "torvalds",
    "turing", "valiant", "wheeler", "wilkes", "wirth", "wozniak", "yao",
)
