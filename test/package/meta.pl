#!/usr/bin/perl
# ---------------------------------------------------------------------------
# test/package/meta.pl -- check META.json against the PGXN Meta Spec 1.0.x
# (https://pgxn.org/spec/) and against the tree it describes.
#
#   perl test/package/meta.pl [META.json]
#
# The spec's rules: the required keys, no keys but the spec's and x_/X_
# ones at every level that forbids others, terms (names of at least two
# characters without slash, backslash, space or control characters), semantic
# versions, licenses from the spec's list (or name => URI), the prereq phases
# and relationships with version ranges, release_status, resources, tags,
# no_index.  The tree: every file named (provides' file and docfile, no_index'
# paths) exists; each extension's version is the default_version of its
# control file, and the distribution's version too; the PostgreSQL it
# requires is the oldest ivm supports (test/lib.sh's IVM_PG_SUPPORTED).
# Prints each fault and exits 1 when there is one, else prints "META.json
# is valid" and exits 0.
# ---------------------------------------------------------------------------
use strict;
use warnings;
use JSON::PP;
use File::Basename qw(dirname);

my $file = shift // 'META.json';
my $root = dirname($file);
my @faults;

sub fault { push @faults, join('', @_); }

# The checks of the spec's types; each takes a value and the key path it is
# at, and records a fault when the value does not fit.
my $semver = qr/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)
                (?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?
                (?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/x;
my @licenses = qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd
    gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0
    mozilla_1_1 openssl perl_5 postgresql qpl_1_0 ssleay sun zlib open_source
    restricted unrestricted unknown);

sub is_string { defined $_[0] && !ref $_[0] && !JSON::PP::is_bool($_[0]) }
sub is_object { ref $_[0] eq 'HASH' }
sub is_array  { ref $_[0] eq 'ARRAY' }

sub check_string {
    my ($v, $at) = @_;
    if (!is_string($v) || $v eq '') {
        fault("$at: must be a non-empty string");
        return 0;
    }
    return 1;
}

sub check_term {
    my ($v, $at) = @_;
    check_string($v, $at) or return;
    fault("$at: \"$v\" is not a term (2 or more characters, no slash, backslash, space or control character)")
        unless $v =~ m{^[^/\\\s[:cntrl:]]{2,}$};
}

sub check_version {
    my ($v, $at) = @_;
    check_string($v, $at) or return;
    fault("$at: \"$v\" is not a semantic version (MAJOR.MINOR.PATCH)")
        unless $v =~ $semver;
}

sub check_uri {
    my ($v, $at) = @_;
    check_string($v, $at) or return;
    fault("$at: \"$v\" is not a URI") unless $v =~ m{^[A-Za-z][A-Za-z0-9+.-]*:\S+$};
}

# A relative path in Unix form to a file of the distribution.
sub check_path {
    my ($v, $at, $kind) = @_;
    check_string($v, $at) or return;
    if ($v =~ m{^/} || $v =~ m{\\} || $v =~ m{(^|/)\.\.(/|$)} || length($v) < 2) {
        fault("$at: \"$v\" is not a relative Unix path");
        return;
    }
    if ($kind eq 'dir' ? !-d "$root/$v" : !-f "$root/$v") {
        fault("$at: \"$v\" does not exist in the distribution");
    }
}

# Only the keys named, and custom keys (x_ or X_ and more).
sub check_keys {
    my ($h, $at, @allowed) = @_;
    my %ok = map { $_ => 1 } @allowed;
    for my $k (sort keys %$h) {
        fault("$at: unknown key \"$k\" (custom keys start with x_)")
            unless $ok{$k} || $k =~ /^[xX]_./;
    }
}

sub check_required {
    my ($h, $at, @required) = @_;
    for my $k (@required) {
        fault("$at: the required key \"$k\" is missing") unless exists $h->{$k};
    }
}

sub check_unique {
    my ($a, $at) = @_;
    my %seen;
    for (@$a) {
        my $key = ref $_ ? JSON::PP->new->canonical->encode($_) : $_ // '';
        fault("$at: \"$key\" appears twice") if $seen{$key}++;
    }
}

sub check_version_range {
    my ($v, $at) = @_;
    return if defined $v && !ref $v && $v =~ /^0$/;    # any version, as 0 or "0"
    unless (is_string($v)) {
        fault("$at: must be a version range (a string, or 0)");
        return;
    }
    for my $part (split /,\s*/, $v, -1) {
        my $ver = $part =~ s/^(?:[=!]=|[<>]=?)\s*//r;
        fault("$at: \"$v\" is not a version range (\"1.2.0\", \">= 1.2.0, < 2.0.0\", 0)")
            unless $ver =~ $semver;
    }
}

sub check_license {
    my ($v, $at) = @_;
    my %known = map { $_ => 1 } @licenses;
    if (is_string($v)) {
        fault("$at: \"$v\" is not one of the spec's license names (@licenses)")
            unless $known{$v};
    } elsif (is_array($v)) {
        fault("$at: must not be empty") unless @$v;
        check_unique($v, $at);
        for my $i (0 .. $#$v) {
            fault("$at\[$i]: \"" . ($v->[$i] // 'null') . "\" is not one of the spec's license names")
                unless is_string($v->[$i]) && $known{$v->[$i]};
        }
    } elsif (is_object($v)) {
        fault("$at: must not be empty") unless %$v;
        check_uri($v->{$_}, "$at.$_") for sort keys %$v;
    } else {
        fault("$at: must be a license name, a list of them, or an object of name => URI");
    }
}

sub check_maintainer {
    my ($v, $at) = @_;
    if (is_array($v)) {
        fault("$at: must not be empty") unless @$v;
        check_unique($v, $at);
        check_string($v->[$_], "$at\[$_]") for 0 .. $#$v;
    } else {
        check_string($v, $at);
    }
}

sub check_provides {
    my ($v, $at) = @_;
    unless (is_object($v) && %$v) {
        fault("$at: must be an object naming at least one extension");
        return;
    }
    for my $ext (sort keys %$v) {
        my $e = $v->{$ext};
        my $eat = "$at.$ext";
        check_term($ext, "$eat (the name)");
        unless (is_object($e)) {
            fault("$eat: must be an object");
            next;
        }
        check_required($e, $eat, qw(file version));
        check_keys($e, $eat, qw(file version abstract docfile));
        check_path($e->{file}, "$eat.file", 'file') if exists $e->{file};
        check_path($e->{docfile}, "$eat.docfile", 'file') if exists $e->{docfile};
        check_string($e->{abstract}, "$eat.abstract") if exists $e->{abstract};
        check_version($e->{version}, "$eat.version") if exists $e->{version};
    }
}

sub check_prereqs {
    my ($v, $at) = @_;
    unless (is_object($v) && %$v) {
        fault("$at: must be an object of phases");
        return;
    }
    check_keys($v, $at, qw(configure build test runtime develop));
    for my $phase (grep { !/^[xX]_/ } sort keys %$v) {
        my $p = $v->{$phase};
        unless (is_object($p) && %$p) {
            fault("$at.$phase: must be an object of relationships");
            next;
        }
        check_keys($p, "$at.$phase", qw(requires recommends suggests conflicts));
        for my $rel (grep { !/^[xX]_/ } sort keys %$p) {
            my $r = $p->{$rel};
            unless (is_object($r) && %$r) {
                fault("$at.$phase.$rel: must be an object of name => version range");
                next;
            }
            for my $name (sort keys %$r) {
                check_term($name, "$at.$phase.$rel (a name)");
                check_version_range($r->{$name}, "$at.$phase.$rel.$name");
            }
        }
    }
}

sub check_resources {
    my ($v, $at) = @_;
    unless (is_object($v) && %$v) {
        fault("$at: must be an object with homepage, bugtracker or repository");
        return;
    }
    check_keys($v, $at, qw(homepage bugtracker repository));
    check_uri($v->{homepage}, "$at.homepage") if exists $v->{homepage};
    if (exists $v->{bugtracker}) {
        my $b = $v->{bugtracker};
        if (!is_object($b) || !(exists $b->{web} || exists $b->{mailto})) {
            fault("$at.bugtracker: must be an object with web or mailto");
        } else {
            check_keys($b, "$at.bugtracker", qw(web mailto));
            check_uri($b->{web}, "$at.bugtracker.web") if exists $b->{web};
            fault("$at.bugtracker.mailto: not an email address")
                if exists $b->{mailto} && !(is_string($b->{mailto}) && $b->{mailto} =~ /^[^@\s]+@[^@\s]+$/);
        }
    }
    if (exists $v->{repository}) {
        my $r = $v->{repository};
        if (!is_object($r) || !((exists $r->{url} && exists $r->{type}) || exists $r->{web})) {
            fault("$at.repository: must be an object with url and type, or web");
        } else {
            check_keys($r, "$at.repository", qw(url web type));
            check_uri($r->{url}, "$at.repository.url") if exists $r->{url};
            check_uri($r->{web}, "$at.repository.web") if exists $r->{web};
            fault("$at.repository.type: must be a lower-case word such as git")
                if exists $r->{type} && !(is_string($r->{type}) && $r->{type} =~ /^[a-z]+$/);
        }
    }
}

sub check_tags {
    my ($v, $at) = @_;
    unless (is_array($v) && @$v) {
        fault("$at: must be a non-empty list");
        return;
    }
    check_unique($v, $at);
    for my $i (0 .. $#$v) {
        my $t = $v->[$i];
        fault("$at\[$i]: \"" . ($t // 'null') . "\" is not a tag (2 to 255 characters, no slash, backslash or control character)")
            unless is_string($t) && $t =~ m{^[^/\\[:cntrl:]]{2,255}$};
    }
}

sub check_no_index {
    my ($v, $at) = @_;
    unless (is_object($v) && (exists $v->{file} || exists $v->{directory})) {
        fault("$at: must be an object with file or directory");
        return;
    }
    check_keys($v, $at, qw(file directory));
    for my $k (qw(file directory)) {
        next unless exists $v->{$k};
        my $l = $v->{$k};
        my @paths = is_array($l) ? @$l : ($l);
        fault("$at.$k: must not be empty") unless @paths;
        check_unique(\@paths, "$at.$k");
        check_path($paths[$_], "$at.$k\[$_]", $k eq 'file' ? 'file' : 'dir') for 0 .. $#paths;
    }
}

# The default_version of an extension's control file, or undef.
sub control_version {
    my ($ext) = @_;
    open my $fh, '<', "$root/$ext.control" or return undef;
    while (<$fh>) {
        return $1 if /^\s*default_version\s*=\s*'([^']*)'/;
    }
    return undef;
}

open my $fh, '<', $file or die "$file: $!\n";
my $text = do { local $/; <$fh> };
my $meta = eval { JSON::PP->new->relaxed(0)->decode($text) };
if (!defined $meta) {
    print "$file is not JSON: $@";
    exit 1;
}
unless (is_object($meta)) {
    print "$file: must hold one JSON object\n";
    exit 1;
}

check_required($meta, 'META', qw(name version abstract maintainer license provides meta-spec));
check_keys($meta, 'META', qw(name version abstract maintainer license provides meta-spec
    description generated_by tags no_index prereqs release_status resources));
if (is_object($meta->{'meta-spec'})) {
    my $ms = $meta->{'meta-spec'};
    check_required($ms, 'meta-spec', 'version');
    check_keys($ms, 'meta-spec', qw(version url));
    fault("meta-spec.version: \"" . ($ms->{version} // '') . "\" is not 1.0.x (the spec this checker knows)")
        unless is_string($ms->{version}) && $ms->{version} =~ /^1\.0\.\d+$/;
    fault("meta-spec.url: must be https://pgxn.org/meta/spec.txt")
        if exists $ms->{url} && !(is_string($ms->{url}) && $ms->{url} =~ m{^https?://pgxn\.org/meta/spec\.txt$});
} elsif (exists $meta->{'meta-spec'}) {
    fault('meta-spec: must be an object with version');
}
check_term($meta->{name}, 'name') if exists $meta->{name};
check_version($meta->{version}, 'version') if exists $meta->{version};
for my $k (qw(abstract description generated_by)) {
    check_string($meta->{$k}, $k) if exists $meta->{$k};
}
check_maintainer($meta->{maintainer}, 'maintainer') if exists $meta->{maintainer};
check_license($meta->{license}, 'license') if exists $meta->{license};
check_provides($meta->{provides}, 'provides') if exists $meta->{provides};
check_prereqs($meta->{prereqs}, 'prereqs') if exists $meta->{prereqs};
check_resources($meta->{resources}, 'resources') if exists $meta->{resources};
check_tags($meta->{tags}, 'tags') if exists $meta->{tags};
check_no_index($meta->{no_index}, 'no_index') if exists $meta->{no_index};
if (exists $meta->{release_status}) {
    fault("release_status: must be stable, testing or unstable")
        unless is_string($meta->{release_status}) && $meta->{release_status} =~ /^(stable|testing|unstable)$/;
}

# The tree: versions agree with the control files, the oldest server is right.
if (is_object($meta->{provides})) {
    for my $ext (sort keys %{ $meta->{provides} }) {
        my $e = $meta->{provides}{$ext};
        next unless is_object($e) && is_string($e->{version});
        my $cv = control_version($ext);
        if (!defined $cv) {
            fault("provides.$ext: no $ext.control with a default_version in the distribution");
        } elsif ($cv ne $e->{version}) {
            fault("provides.$ext.version: \"$e->{version}\", but $ext.control says default_version = '$cv'");
        }
    }
}
my $main = is_string($meta->{name}) ? control_version($meta->{name}) : undef;
if (defined $main && is_string($meta->{version}) && $meta->{version} ne $main) {
    fault("version: \"$meta->{version}\", but $meta->{name}.control says default_version = '$main'");
}
if (defined $ENV{IVM_PG_SUPPORTED}) {
    my ($oldest) = sort { $a <=> $b } split ' ', $ENV{IVM_PG_SUPPORTED};
    my $req = eval { $meta->{prereqs}{runtime}{requires}{PostgreSQL} } // '';
    fault("prereqs.runtime.requires.PostgreSQL: \"$req\", but the oldest version ivm supports is $oldest (\"$oldest.0.0\")")
        unless $req eq "$oldest.0.0";
}

if (@faults) {
    print "$file is not valid for PGXN (Meta Spec 1.0):\n";
    print "  $_\n" for @faults;
    exit 1;
}
print "$file is valid (PGXN Meta Spec 1.0, and it agrees with the tree)\n";
exit 0;
