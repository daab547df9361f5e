# Writes OUT, a C++ file defining hs::workload::kDefaultProfilesYaml with the bytes of IN.
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "namespace hs::workload {\nextern const char kDefaultProfilesYaml[] = {${bytes} 0x00};\n}\n")
