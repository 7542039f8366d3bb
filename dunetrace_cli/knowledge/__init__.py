"""Static knowledge about Dunetrace failure types: what each detector catches
(:mod:`.detectors`) and how to explain a detected signal to a person
(:mod:`.explain`). Pure data and string formatting; no I/O."""
