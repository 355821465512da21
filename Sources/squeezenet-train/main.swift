import Training
let r = try ReferenceCheck.run(directory: CommandLine.arguments[1])
print(r.description)
for t in r.results { print(t.name, t.role, t.maxAbsDiff, t.relative, t.passed) }
