#!/usr/bin/python3
"""gen-seed.py - generate data/seed.ldif, the seed of the GMS directory.

The seed holds the tree's skeleton and exactly 359 institutions of a
Tanzania-like public service, each with its own mail domain under go.tz:
ministries, independent departments, agencies, regional administrations
(regional secretariats), regional referral hospitals, local government
authorities (councils) and missions abroad (embassies, high commissions,
consulates general).  Names are given in English and Swahili.

Missions abroad: the Ministry of Foreign Affairs holds nje.go.tz ("mambo ya
nje", foreign affairs); each mission gets <city>.nje.go.tz after the city
of its chancery (cities are unique, while a country may hold several
missions: an embassy and a consulate general).

Usage: /usr/bin/python3 data/gen-seed.py [--base o=gms] [--counts] > seed.ldif
The output is deterministic: running it again gives the same file.
"""
import base64
import re
import sys

MINISTRIES = [
    # id, English, Swahili, domain label
    ("tamisemi", "President's Office - Regional Administration and Local Government",
     "Ofisi ya Rais - Tawala za Mikoa na Serikali za Mitaa", "tamisemi"),
    ("utumishi", "President's Office - Public Service Management and Good Governance",
     "Ofisi ya Rais - Menejimenti ya Utumishi wa Umma na Utawala Bora", "utumishi"),
    ("mipango", "President's Office - Planning and Investment",
     "Ofisi ya Rais - Mipango na Uwekezaji", "mipango"),
    ("pmo", "Prime Minister's Office", "Ofisi ya Waziri Mkuu", "pmo"),
    ("vpo", "Vice President's Office", "Ofisi ya Makamu wa Rais", "vpo"),
    ("mof", "Ministry of Finance", "Wizara ya Fedha", "mof"),
    ("nje", "Ministry of Foreign Affairs and East African Cooperation",
     "Wizara ya Mambo ya Nje na Ushirikiano wa Afrika Mashariki", "nje"),
    ("mod", "Ministry of Defence and National Service",
     "Wizara ya Ulinzi na Jeshi la Kujenga Taifa", "mod"),
    ("moha", "Ministry of Home Affairs", "Wizara ya Mambo ya Ndani ya Nchi", "moha"),
    ("sheria", "Ministry of Constitutional and Legal Affairs",
     "Wizara ya Katiba na Sheria", "sheria"),
    ("afya", "Ministry of Health", "Wizara ya Afya", "afya"),
    ("elimu", "Ministry of Education, Science and Technology",
     "Wizara ya Elimu, Sayansi na Teknolojia", "moe"),
    ("kilimo", "Ministry of Agriculture", "Wizara ya Kilimo", "kilimo"),
    ("mifugo", "Ministry of Livestock and Fisheries", "Wizara ya Mifugo na Uvuvi",
     "mifugouvuvi"),
    ("maliasili", "Ministry of Natural Resources and Tourism",
     "Wizara ya Maliasili na Utalii", "maliasili"),
    ("ardhi", "Ministry of Lands, Housing and Human Settlements Development",
     "Wizara ya Ardhi, Nyumba na Maendeleo ya Makazi", "ardhi"),
    ("maji", "Ministry of Water", "Wizara ya Maji", "maji"),
    ("nishati", "Ministry of Energy", "Wizara ya Nishati", "nishati"),
    ("madini", "Ministry of Minerals", "Wizara ya Madini", "madini"),
    ("ujenzi", "Ministry of Works", "Wizara ya Ujenzi", "ujenzi"),
    ("uchukuzi", "Ministry of Transport", "Wizara ya Uchukuzi", "uchukuzi"),
    ("viwanda", "Ministry of Industry and Trade", "Wizara ya Viwanda na Biashara", "mit"),
    ("habari", "Ministry of Information, Communication and Information Technology",
     "Wizara ya Habari, Mawasiliano na Teknolojia ya Habari", "habari"),
    ("michezo", "Ministry of Culture, Arts and Sports",
     "Wizara ya Utamaduni, Sanaa na Michezo", "michezo"),
    ("jamii", "Ministry of Community Development, Gender, Women and Special Groups",
     "Wizara ya Maendeleo ya Jamii, Jinsia, Wanawake na Makundi Maalum", "jamii"),
    ("kazi", "Ministry of Labour, Youth and Employment",
     "Wizara ya Kazi, Vijana na Ajira", "kazi"),
]

DEPARTMENTS = [
    ("nao", "National Audit Office", "Ofisi ya Taifa ya Ukaguzi", "nao"),
    ("agc", "Attorney General's Chambers", "Ofisi ya Mwanasheria Mkuu wa Serikali", "agc"),
    ("osg", "Office of the Solicitor General", "Ofisi ya Wakili Mkuu wa Serikali", "osg"),
    ("nps", "National Prosecutions Service", "Ofisi ya Taifa ya Mashtaka", "nps"),
    ("mahakama", "Judiciary of Tanzania", "Mahakama ya Tanzania", "judiciary"),
    ("bunge", "National Assembly", "Bunge la Tanzania", "bunge"),
    ("inec", "Independent National Electoral Commission",
     "Tume Huru ya Taifa ya Uchaguzi", "inec"),
    ("psc", "Public Service Commission", "Tume ya Utumishi wa Umma", "psc"),
    ("maadili", "Ethics Secretariat", "Sekretarieti ya Maadili ya Viongozi wa Umma",
     "maadili"),
    ("pccb", "Prevention and Combating of Corruption Bureau",
     "Taasisi ya Kuzuia na Kupambana na Rushwa", "pccb"),
    ("chragg", "Commission for Human Rights and Good Governance",
     "Tume ya Haki za Binadamu na Utawala Bora", "chragg"),
    ("orpp", "Office of the Registrar of Political Parties",
     "Ofisi ya Msajili wa Vyama vya Siasa", "orpp"),
    ("lrct", "Law Reform Commission", "Tume ya Kurekebisha Sheria", "lrct"),
    ("tr", "Office of the Treasury Registrar", "Ofisi ya Msajili wa Hazina", "tro"),
    ("polisi", "Police Force", "Jeshi la Polisi", "polisi"),
    ("magereza", "Prisons Service", "Jeshi la Magereza", "magereza"),
    ("zimamoto", "Fire and Rescue Force", "Jeshi la Zimamoto na Uokoaji", "zimamoto"),
    ("uhamiaji", "Immigration Services Department", "Idara ya Uhamiaji", "uhamiaji"),
    ("ajira", "Public Service Recruitment Secretariat",
     "Sekretarieti ya Ajira katika Utumishi wa Umma", "ajira"),
    ("nyaraka", "Records and Archives Management Department",
     "Idara ya Kumbukumbu na Nyaraka za Taifa", "nyaraka"),
]

AGENCIES = [
    ("tra", "Revenue Authority", "Mamlaka ya Mapato", "tra"),
    ("tpa", "Ports Authority", "Mamlaka ya Bandari", "ports"),
    ("tanroads", "National Roads Agency", "Wakala wa Barabara", "tanroads"),
    ("tarura", "Rural and Urban Roads Agency",
     "Wakala wa Barabara za Vijijini na Mijini", "tarura"),
    ("ega", "e-Government Authority", "Mamlaka ya Serikali Mtandao", "ega"),
    ("nbs", "National Bureau of Statistics", "Ofisi ya Taifa ya Takwimu", "nbs"),
    ("tma", "Meteorological Authority", "Mamlaka ya Hali ya Hewa", "meteo"),
    ("tcra", "Communications Regulatory Authority", "Mamlaka ya Mawasiliano", "tcra"),
    ("ewura", "Energy and Water Utilities Regulatory Authority",
     "Mamlaka ya Udhibiti wa Huduma za Nishati na Maji", "ewura"),
    ("latra", "Land Transport Regulatory Authority",
     "Mamlaka ya Udhibiti Usafiri Ardhini", "latra"),
    ("tcaa", "Civil Aviation Authority", "Mamlaka ya Usafiri wa Anga", "tcaa"),
    ("tmda", "Medicines and Medical Devices Authority",
     "Mamlaka ya Dawa na Vifaa Tiba", "tmda"),
    ("msd", "Medical Stores Department", "Bohari ya Dawa", "msd"),
    ("nhif", "National Health Insurance Fund", "Mfuko wa Taifa wa Bima ya Afya", "nhif"),
    ("tbs", "Bureau of Standards", "Shirika la Viwango", "tbs"),
    ("gcla", "Government Chemist Laboratory Authority",
     "Mamlaka ya Maabara ya Mkemia Mkuu wa Serikali", "gcla"),
    ("tfs", "Forest Services Agency", "Wakala wa Huduma za Misitu", "tfs"),
    ("tanapa", "National Parks", "Hifadhi za Taifa", "tanapa"),
    ("ncaa", "Ngorongoro Conservation Area Authority",
     "Mamlaka ya Hifadhi ya Ngorongoro", "ncaa"),
    ("tawa", "Wildlife Management Authority",
     "Mamlaka ya Usimamizi wa Wanyamapori", "tawa"),
    ("ttb", "Tourist Board", "Bodi ya Utalii", "ttb"),
    ("ruwasa", "Rural Water Supply and Sanitation Agency",
     "Wakala wa Maji na Usafi wa Mazingira Vijijini", "ruwasa"),
    ("tanesco", "Electric Supply Company", "Shirika la Umeme", "tanesco"),
    ("rea", "Rural Energy Agency", "Wakala wa Nishati Vijijini", "rea"),
    ("tba", "Buildings Agency", "Wakala wa Majengo", "tba"),
    ("temesa", "Electrical, Mechanical and Electronics Services Agency",
     "Wakala wa Ufundi na Umeme", "temesa"),
    ("gpsa", "Government Procurement Services Agency",
     "Wakala wa Huduma ya Ununuzi Serikalini", "gpsa"),
    ("ppra", "Public Procurement Regulatory Authority",
     "Mamlaka ya Udhibiti wa Ununuzi wa Umma", "ppra"),
    ("nida", "National Identification Authority",
     "Mamlaka ya Vitambulisho vya Taifa", "nida"),
    ("rita", "Registration, Insolvency and Trusteeship Agency",
     "Wakala wa Usajili, Ufilisi na Udhamini", "rita"),
    ("brela", "Business Registrations and Licensing Agency",
     "Wakala wa Usajili wa Biashara na Leseni", "brela"),
    ("tic", "Investment Centre", "Kituo cha Uwekezaji", "tic"),
    ("tasac", "Shipping Agencies Corporation", "Shirika la Uwakala wa Meli", "tasac"),
    ("taa", "Airports Authority", "Mamlaka ya Viwanja vya Ndege", "taa"),
    ("trc", "Railways Corporation", "Shirika la Reli", "trc"),
    ("tie", "Institute of Education", "Taasisi ya Elimu", "tie"),
    ("necta", "National Examinations Council", "Baraza la Mitihani", "necta"),
    ("heslb", "Higher Education Students' Loans Board",
     "Bodi ya Mikopo ya Wanafunzi wa Elimu ya Juu", "heslb"),
    ("tcu", "Commission for Universities", "Tume ya Vyuo Vikuu", "tcu"),
    ("osha", "Occupational Safety and Health Authority",
     "Wakala wa Usalama na Afya Mahali pa Kazi", "osha"),
]

# Agencies in Dar es Salaam (the rest sit in Dodoma).
DAR_AGENCIES = {"tpa", "tcra", "tanesco", "tasac", "trc", "tbs", "msd", "tic",
                "gcla", "tra", "taa", "tcaa", "ewura", "latra", "tma", "tanroads"}

# Region -> councils as (name, type); type: cc city, mc municipal, tc town,
# dc district council.
COUNCILS = {
    "Arusha": [("Arusha", "cc"), ("Arusha", "dc"), ("Meru", "dc"), ("Karatu", "dc"),
               ("Longido", "dc"), ("Monduli", "dc"), ("Ngorongoro", "dc")],
    "Dar es Salaam": [("Dar es Salaam", "cc"), ("Kinondoni", "mc"), ("Temeke", "mc"),
                      ("Ubungo", "mc"), ("Kigamboni", "mc")],
    "Dodoma": [("Dodoma", "cc"), ("Bahi", "dc"), ("Chamwino", "dc"), ("Chemba", "dc"),
               ("Kondoa", "dc"), ("Kondoa", "tc"), ("Kongwa", "dc"), ("Mpwapwa", "dc")],
    "Geita": [("Geita", "tc"), ("Geita", "dc"), ("Bukombe", "dc"), ("Chato", "dc"),
              ("Mbogwe", "dc"), ("Nyang'hwale", "dc")],
    "Iringa": [("Iringa", "mc"), ("Iringa", "dc"), ("Kilolo", "dc"), ("Mafinga", "tc"),
               ("Mufindi", "dc")],
    "Kagera": [("Bukoba", "mc"), ("Bukoba", "dc"), ("Biharamulo", "dc"),
               ("Karagwe", "dc"), ("Kyerwa", "dc"), ("Missenyi", "dc"), ("Muleba", "dc"),
               ("Ngara", "dc")],
    "Katavi": [("Mpanda", "mc"), ("Mpimbwe", "dc"), ("Nsimbo", "dc"),
               ("Tanganyika", "dc"), ("Mlele", "dc")],
    "Kigoma": [("Kigoma/Ujiji", "mc"), ("Kigoma", "dc"), ("Buhigwe", "dc"),
               ("Kakonko", "dc"), ("Kasulu", "tc"), ("Kasulu", "dc"), ("Kibondo", "dc"),
               ("Uvinza", "dc")],
    "Kilimanjaro": [("Moshi", "mc"), ("Moshi", "dc"), ("Hai", "dc"), ("Mwanga", "dc"),
                    ("Rombo", "dc"), ("Same", "dc"), ("Siha", "dc")],
    "Lindi": [("Lindi", "mc"), ("Mtama", "dc"), ("Kilwa", "dc"), ("Liwale", "dc"),
              ("Nachingwea", "dc"), ("Ruangwa", "dc")],
    "Manyara": [("Babati", "tc"), ("Babati", "dc"), ("Hanang", "dc"), ("Kiteto", "dc"),
                ("Mbulu", "tc"), ("Mbulu", "dc"), ("Simanjiro", "dc")],
    "Mara": [("Musoma", "mc"), ("Musoma", "dc"), ("Bunda", "tc"), ("Bunda", "dc"),
             ("Butiama", "dc"), ("Rorya", "dc"), ("Serengeti", "dc"), ("Tarime", "tc"),
             ("Tarime", "dc")],
    "Mbeya": [("Mbeya", "cc"), ("Mbeya", "dc"), ("Busokelo", "dc"), ("Chunya", "dc"),
              ("Kyela", "dc"), ("Mbarali", "dc"), ("Rungwe", "dc")],
    "Morogoro": [("Morogoro", "mc"), ("Morogoro", "dc"), ("Gairo", "dc"),
                 ("Ifakara", "tc"), ("Mlimba", "dc"), ("Kilosa", "dc"),
                 ("Malinyi", "dc"), ("Mvomero", "dc"), ("Ulanga", "dc")],
    "Mtwara": [("Mtwara", "mc"), ("Mtwara", "dc"), ("Masasi", "tc"), ("Masasi", "dc"),
               ("Nanyamba", "tc"), ("Nanyumbu", "dc"), ("Newala", "tc"),
               ("Newala", "dc"), ("Tandahimba", "dc")],
    "Mwanza": [("Mwanza", "cc"), ("Ilemela", "mc"), ("Buchosa", "dc"), ("Kwimba", "dc"),
               ("Magu", "dc"), ("Misungwi", "dc"), ("Sengerema", "dc"),
               ("Ukerewe", "dc")],
    "Njombe": [("Njombe", "tc"), ("Njombe", "dc"), ("Ludewa", "dc"), ("Makambako", "tc"),
               ("Makete", "dc"), ("Wanging'ombe", "dc")],
    "Pwani": [("Kibaha", "tc"), ("Kibaha", "dc"), ("Bagamoyo", "dc"), ("Chalinze", "dc"),
              ("Kibiti", "dc"), ("Kisarawe", "dc"), ("Mafia", "dc"), ("Mkuranga", "dc"),
              ("Rufiji", "dc")],
    "Rukwa": [("Sumbawanga", "mc"), ("Sumbawanga", "dc"), ("Kalambo", "dc"),
              ("Nkasi", "dc")],
    "Ruvuma": [("Songea", "mc"), ("Songea", "dc"), ("Madaba", "dc"), ("Mbinga", "tc"),
               ("Mbinga", "dc"), ("Namtumbo", "dc"), ("Nyasa", "dc"), ("Tunduru", "dc")],
    "Shinyanga": [("Shinyanga", "mc"), ("Shinyanga", "dc"), ("Kahama", "mc"),
                  ("Msalala", "dc"), ("Ushetu", "dc"), ("Kishapu", "dc")],
    "Simiyu": [("Bariadi", "tc"), ("Bariadi", "dc"), ("Busega", "dc"), ("Itilima", "dc"),
               ("Maswa", "dc"), ("Meatu", "dc")],
    "Singida": [("Singida", "mc"), ("Singida", "dc"), ("Ikungi", "dc"), ("Iramba", "dc"),
                ("Manyoni", "dc"), ("Mkalama", "dc"), ("Itigi", "dc")],
    "Songwe": [("Tunduma", "tc"), ("Mbozi", "dc"), ("Ileje", "dc"), ("Momba", "dc"),
               ("Songwe", "dc")],
    "Tabora": [("Tabora", "mc"), ("Igunga", "dc"), ("Kaliua", "dc"), ("Nzega", "tc"),
               ("Nzega", "dc"), ("Sikonge", "dc"), ("Urambo", "dc"), ("Uyui", "dc")],
    "Tanga": [("Tanga", "cc"), ("Handeni", "tc"), ("Handeni", "dc"), ("Kilindi", "dc"),
              ("Korogwe", "tc"), ("Korogwe", "dc"), ("Lushoto", "dc"), ("Bumbuli", "dc"),
              ("Mkinga", "dc"), ("Muheza", "dc"), ("Pangani", "dc")],
}

COUNCIL_TYPES = {
    "cc": ("City Council", "Halmashauri ya Jiji la"),
    "mc": ("Municipal Council", "Halmashauri ya Manispaa ya"),
    "tc": ("Town Council", "Halmashauri ya Mji wa"),
    "dc": ("District Council", "Halmashauri ya Wilaya ya"),
}

# Regional referral hospitals: (region, hospital name or None for the region's).
HOSPITALS = [
    ("Arusha", "Mount Meru"), ("Dar es Salaam", "Amana"),
    ("Dar es Salaam", "Mwananyamala"), ("Dar es Salaam", "Temeke"),
    ("Dodoma", None), ("Geita", None), ("Iringa", None), ("Kagera", "Bukoba"),
    ("Katavi", None), ("Kigoma", "Maweni"), ("Kilimanjaro", "Mawenzi"),
    ("Lindi", "Sokoine"), ("Manyara", None), ("Mara", None), ("Mbeya", None),
    ("Morogoro", None), ("Mtwara", "Ligula"), ("Mwanza", "Sekou Toure"),
    ("Njombe", None), ("Pwani", "Tumbi"), ("Rukwa", "Sumbawanga"),
    ("Ruvuma", "Songea"), ("Shinyanga", None), ("Simiyu", None),
    ("Singida", None), ("Songwe", None), ("Tabora", "Kitete"), ("Tanga", "Bombo"),
]

# Missions abroad: (city, country, type); type: hc high commission,
# em embassy, cg consulate general.
MISSIONS = [
    ("Nairobi", "Kenya", "hc"), ("Kampala", "Uganda", "hc"), ("Kigali", "Rwanda", "hc"),
    ("Bujumbura", "Burundi", "em"), ("Kinshasa", "Democratic Republic of the Congo", "em"),
    ("Lusaka", "Zambia", "hc"), ("Lilongwe", "Malawi", "hc"),
    ("Maputo", "Mozambique", "hc"), ("Harare", "Zimbabwe", "em"),
    ("Pretoria", "South Africa", "hc"), ("Abuja", "Nigeria", "hc"),
    ("Addis Ababa", "Ethiopia", "em"), ("Cairo", "Egypt", "em"), ("Muscat", "Oman", "em"),
    ("Abu Dhabi", "United Arab Emirates", "em"), ("Dubai", "United Arab Emirates", "cg"),
    ("Riyadh", "Saudi Arabia", "em"), ("Jeddah", "Saudi Arabia", "cg"),
    ("Doha", "Qatar", "em"), ("Kuwait City", "Kuwait", "em"), ("Ankara", "Turkey", "em"),
    ("Beijing", "China", "em"), ("Guangzhou", "China", "cg"), ("Tokyo", "Japan", "em"),
    ("Seoul", "Republic of Korea", "em"), ("New Delhi", "India", "hc"),
    ("Kuala Lumpur", "Malaysia", "hc"), ("Moscow", "Russia", "em"),
    ("Berlin", "Germany", "em"), ("Paris", "France", "em"), ("Brussels", "Belgium", "em"),
    ("Stockholm", "Sweden", "em"), ("London", "United Kingdom", "hc"),
    ("Washington", "United States of America", "em"), ("Ottawa", "Canada", "hc"),
]

MISSION_TYPES = {
    "hc": ("High Commission of the United Republic of Tanzania", "Ubalozi wa Tanzania"),
    "em": ("Embassy of the United Republic of Tanzania", "Ubalozi wa Tanzania"),
    "cg": ("Consulate General of the United Republic of Tanzania",
           "Ubalozi Mdogo wa Tanzania"),
}

EXPECTED = {"ministry": 26, "department": 20, "agency": 40, "region": 26,
            "hospital": 28, "council": 184, "embassy": 35}


def slug(s):
    """ASCII letters and digits only, lowercase."""
    return re.sub(r"[^a-z0-9]", "", s.lower())


def institutions():
    """Every institution as a dict, in a stable order."""
    out = []
    for iid, en, sw, dom in MINISTRIES:
        out.append(dict(id=iid, kind="ministry", en=en, sw=sw, region="Dodoma",
                        domain=dom + ".go.tz"))
    for iid, en, sw, dom in DEPARTMENTS:
        out.append(dict(id=iid, kind="department", en=en, sw=sw, region="Dodoma",
                        domain=dom + ".go.tz"))
    for iid, en, sw, dom in AGENCIES:
        out.append(dict(id=iid, kind="agency", en="Tanzania " + en
                        if not en.startswith(("National", "Government", "Public",
                                              "Medical", "Rural", "Registration",
                                              "Business", "Higher", "Occupational",
                                              "Energy", "Land", "e-Government",
                                              "Ngorongoro"))
                        else en, sw=sw + (" Tanzania" if not sw.endswith("Tanzania")
                                          else ""),
                        region="Dar es Salaam" if iid in DAR_AGENCIES else "Dodoma",
                        domain=dom + ".go.tz"))
    for region in COUNCILS:
        out.append(dict(id="rs-" + slug(region), kind="region",
                        en=region + " Regional Secretariat",
                        sw="Sekretarieti ya Mkoa wa " + region, region=region,
                        domain=slug(region) + ".go.tz"))
    for region, name in HOSPITALS:
        base = name or region
        en = "%s Regional Referral Hospital" % base
        sw = "Hospitali ya Rufaa ya Mkoa %s" % (
            "wa " + region if name is None else "ya " + name)
        out.append(dict(id="rrh-" + slug(base), kind="hospital", en=en, sw=sw,
                        region=region, domain=slug(base) + "rrh.go.tz"))
    for region, councils in COUNCILS.items():
        for name, t in councils:
            en_t, sw_t = COUNCIL_TYPES[t]
            out.append(dict(id=slug(name) + "-" + t, kind="council",
                            en="%s %s" % (name, en_t), sw="%s %s" % (sw_t, name),
                            region=region, domain=slug(name) + t + ".go.tz"))
    for city, country, t in MISSIONS:
        en_t, sw_t = MISSION_TYPES[t]
        out.append(dict(id="mission-" + slug(city), kind="embassy",
                        en="%s, %s" % (en_t, city), sw="%s, %s" % (sw_t, city),
                        country=country, city=city,
                        domain=slug(city) + ".nje.go.tz"))
    return out


def ldif_line(attr, value):
    """One attribute line, base64 when RFC 2849 requires it."""
    safe = re.fullmatch(r"[\x01-\x09\x0b-\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f]"
                        r"[\x01-\x09\x0b-\x0c\x0e-\x7f]*", value)
    if safe and not value.endswith(" "):
        return "%s: %s" % (attr, value)
    return "%s:: %s" % (attr, base64.b64encode(value.encode()).decode())


def main():
    base = "o=gms"
    counts_only = False
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--base" and args:
            base = args.pop(0)
        elif a == "--counts":
            counts_only = True
        else:
            sys.exit(__doc__)
    insts = institutions()
    counts = {}
    for i in insts:
        counts[i["kind"]] = counts.get(i["kind"], 0) + 1
    ids = [i["id"] for i in insts]
    doms = [i["domain"] for i in insts]
    assert len(insts) == 359, len(insts)
    assert counts == EXPECTED, counts
    assert len(set(ids)) == len(ids), "duplicate id"
    assert len(set(doms)) == len(doms), "duplicate domain"
    if counts_only:
        for k in EXPECTED:
            print("%-10s %3d" % (k, counts[k]))
        print("%-10s %3d" % ("total", len(insts)))
        return
    out = ["# seed.ldif - generated by data/gen-seed.py; do not edit.",
           "# %d institutions: %s" % (len(insts), ", ".join(
               "%s %d" % (k, counts[k]) for k in EXPECTED)), ""]
    rdn = base.split(",")[0].split("=", 1)
    out += ["dn: " + base, "objectClass: top", "objectClass: organization",
            "o: " + rdn[1], "description: Government Mail System directory", ""]
    for ou in ("system", "institutions", "domains", "people", "aliases", "lists"):
        out += ["dn: ou=%s,%s" % (ou, base), "objectClass: top",
                "objectClass: organizationalUnit", "ou: " + ou, ""]
    for i in insts:
        out += ["dn: gmsInstitutionId=%s,ou=institutions,%s" % (i["id"], base),
                "objectClass: top", "objectClass: gmsInstitution",
                "gmsInstitutionId: " + i["id"],
                "gmsInstitutionKind: " + i["kind"],
                ldif_line("gmsNameEn", i["en"]), ldif_line("gmsNameSw", i["sw"])]
        for attr, key in (("gmsRegion", "region"), ("gmsCountry", "country"),
                          ("gmsCity", "city")):
            if i.get(key):
                out.append(ldif_line(attr, i[key]))
        out += ["gmsDomainName: " + i["domain"], "mail: info@" + i["domain"], ""]
    for i in insts:
        out += ["dn: gmsDomainName=%s,ou=domains,%s" % (i["domain"], base),
                "objectClass: top", "objectClass: gmsDomain",
                "gmsDomainName: " + i["domain"], "gmsInstitution: " + i["id"],
                "gmsDkimSelector: gms2026", "gmsStatus: active", ""]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
