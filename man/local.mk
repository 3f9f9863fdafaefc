# Man pages and the annotated example configurations (installed under $(docdir)/examples).
dist_man_MANS += man/mpcd.8 man/mpcstore-tool.1

exampledir = $(docdir)/examples
dist_example_DATA = examples/cluster.conf.example examples/mpcd.conf.example \
	examples/client.conf.example
dist_man_MANS += man/mpcput.1
dist_man_MANS += man/mpcsub.1 man/mpcstat.1 man/mpcresult.1 man/mpccancel.1
# The systemd template unit for a party (docs/operator-guide.md), installed as an example.
systemddir = $(docdir)/examples/systemd
dist_systemd_DATA = examples/systemd/mpcd@.service
dist_man_MANS += man/mpcfs.1
