#!/usr/bin/perl
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/corpus.pl: the deterministic mail corpus of bench/run, and its integrity check.
# Everything random comes from one seed (Perl's own drand48, the same on every platform since
# Perl 5.20, and SHA-256 for attachment bytes), so a seed and a preset give the same bytes.
#
#   corpus.pl generate SEED MESSAGES FOLDERS LARGE DIR
#       writes MESSAGES messages into FOLDERS folders of the Maildir++ tree DIR (INBOX at the
#       root, a/b in .a.b), the way Dovecot stores them (LF line ends, S=size, flags in the
#       name, unseen mail in new/). Size mix: most 2-10 KB text, 5 % 50-200 KB with a base64
#       attachment, LARGE of 1-5 MB; 40 % are replies (In-Reply-To, References) to an earlier
#       message of the same folder. Prints "folder<TAB>messages<TAB>bytes" per folder.
#   corpus.pl arrivals SEED ROUND N DIR
#       writes N new unseen messages (Message-IDs unique to ROUND) into new/ of the three
#       largest folders of DIR.
#   corpus.pl changes SEED ROUND NFLAGS NEXPUNGE < doveadm-fetch-output
#       reads `doveadm -f tab fetch 'mailbox uid flags' all` and prints doveadm batch commands
#       (one per line, arguments separated by tabs) that change the flags of NFLAGS messages
#       (\Seen or \Flagged toggled) and expunge NEXPUNGE others, chosen by SEED and ROUND.
#   corpus.pl digest DIR
#       prints "folder-dir<TAB>sha256<TAB>bytes" for every message file in cur/ and new/ under
#       DIR, the content taken with CRLF turned into LF, sorted.
#   corpus.pl compare SERVER-DIGEST LOCAL-DIR
#       checks LOCAL-DIR against a digest: every server message present locally in the same
#       folder, byte-identical after CRLF->LF, and nothing else. Prints a summary; exit 1 on
#       any difference.
use strict;
use warnings;
use Digest::SHA qw(sha256 sha256_hex);
use MIME::Base64 qw(encode_base64);
use File::Find;

my @WORDS = qw(the of and to in is that for it as with was on be by this are from or at have
  an not which but we can all has will one their there been more if would so about when into
  some could them than its only other new also time these two may then do first any like my
  now over such our make most after where long through back much before just those too well
  still between under never same another while last might great since against right three
  build release patch kernel server mailbox folder index thread message review merge branch
  config option default value update change report issue fix test package debian upstream
  meeting schedule budget invoice project deadline draft proposal minutes agenda contract);
my @LISTS = qw(debian-devel notmuch dovecot linux-kernel emacs-devel git postgresql rust-lang
  python-dev meson-devel gnome-devel systemd-devel glibc-alpha openssh-unix nginx-devel);
my @PEOPLE = qw(alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy
  rupert sybil trent victor walter);

sub word { $WORDS[int(rand(@WORDS))] }

sub sentence_line {
    my $line = ucfirst(word());
    $line .= ' ' . word() while length($line) < 60 + rand(12);
    return "$line.\n";
}

sub text_body {
    my ($target) = @_;
    my $body = '';
    while (length($body) < $target) {
        $body .= sentence_line() for 1 .. 3 + int(rand(5));
        $body .= "\n";
    }
    return $body;
}

# Attachment bytes: a pool of SHA-256 output (incompressible, like real attachments), sliced
# at random offsets.
my $POOL;

sub pool_init {
    my ($seed) = @_;
    my @chunks;
    push @chunks, sha256("$seed/$_") for 0 .. 131071;    # 4 MiB
    $POOL = join('', @chunks);
}

sub random_bytes {
    my ($n) = @_;
    my $out = '';
    while (length($out) < $n) {
        my $take = $n - length($out);
        my $off = int(rand(length($POOL) - 4096));
        $take = length($POOL) - $off if $take > length($POOL) - $off;
        $out .= substr($POOL, $off, $take);
    }
    return $out;
}

sub folder_dir {
    my ($root, $folder) = @_;
    return $root if $folder eq 'INBOX';
    (my $d = $folder) =~ s{/}{.}g;
    return "$root/.$d";
}

sub folder_names {
    my ($n) = @_;
    my @names = ('INBOX', 'Sent', 'Archive', 'Junk', 'Trash');
    my @kinds = ('lists', 'Archive', 'projects', 'clients');
    for (my $i = 0; @names < $n; $i++) {
        my $kind = $kinds[$i % @kinds];
        my $k = int($i / @kinds);
        my $name = $kind eq 'lists' ? $LISTS[$k % @LISTS] . ($k >= @LISTS ? "-$k" : '')
          : $kind eq 'Archive' ? 2025 - $k
          : $kind eq 'projects' ? sprintf('p%03d', $k)
          : sprintf('client-%03d', $k);
        push @names, "$kind/$name";
    }
    return @names[0 .. $n - 1];
}

my $SEQ = 0;

sub rfc2822_date {
    my ($t) = @_;
    my @d = gmtime($t);
    my @wd = qw(Sun Mon Tue Wed Thu Fri Sat);
    my @mo = qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec);
    return sprintf('%s, %d %s %d %02d:%02d:%02d +0000', $wd[$d[6]], $d[3], $mo[$d[4]],
        $d[5] + 1900, $d[2], $d[1], $d[0]);
}

# One message: returns its text. $kind: 't' text, 'a' attachment, 'l' large attachment.
sub message {
    my (%m) = @_;
    my $from = $PEOPLE[int(rand(@PEOPLE))];
    my $to = $PEOPLE[int(rand(@PEOPLE))];
    my $h = '';
    $h .= "Return-Path: <$from\@example.org>\n";
    $h .= sprintf("Received: from mx%d.example.org (mx%d.example.org [192.0.2.%d])\n"
          . "\tby imap.example.net (Postfix) with ESMTPS id %08X\n\tfor <test\@example.net>; %s\n",
        $m{n} % 7, $m{n} % 7, 1 + $m{n} % 250, int(rand(2**32)), rfc2822_date($m{time}));
    $h .= "From: \u$from <$from\@example.org>\n";
    $h .= "To: \u$to <$to\@example.org>\n";
    $h .= "Cc: Test User <test\@example.net>\n" if rand() < 0.3;
    $h .= "Subject: $m{subject}\n";
    $h .= "Date: " . rfc2822_date($m{time}) . "\n";
    $h .= "Message-ID: <$m{id}>\n";
    if (defined $m{parent}) {
        $h .= "In-Reply-To: <$m{parent}>\n";
        $h .= "References: " . join("\n ", map {"<$_>"} @{ $m{refs} }) . "\n";
    }
    $h .= "List-Id: <$m{list}.lists.example.org>\n" if defined $m{list};
    $h .= "MIME-Version: 1.0\n";
    my $body;
    if ($m{kind} eq 't') {
        $h .= "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n";
        $body = text_body($m{size} - length($h) - 1);
    } else {
        my $b = sprintf('=-=bench-%d-%d=-=', $m{n}, int(rand(1e9)));
        $h .= "Content-Type: multipart/mixed; boundary=\"$b\"\n";
        my $text = text_body(500 + rand(2000));
        my $raw = int(($m{size} - length($h) - length($text) - 400) * 3 / 4);
        $raw = 1024 if $raw < 1024;
        my $name = sprintf('%s-%d.%s', word(), $m{n}, (qw(pdf zip png docx))[int(rand(4))]);
        $body = "This is a multi-part message in MIME format.\n\n--$b\n"
          . "Content-Type: text/plain; charset=utf-8\n\n$text\n--$b\n"
          . "Content-Type: application/octet-stream; name=\"$name\"\n"
          . "Content-Disposition: attachment; filename=\"$name\"\n"
          . "Content-Transfer-Encoding: base64\n\n"
          . encode_base64(random_bytes($raw)) . "\n--$b--\n";
    }
    return "$h\n$body";
}

sub write_message {
    my ($dir, $text, $time, $flags) = @_;
    $SEQ++;
    my $base = sprintf('%d.M%dP%d.bench,S=%d', $time, $SEQ, 4242, length($text));
    my $path = defined $flags ? "$dir/cur/$base:2,$flags" : "$dir/new/$base";
    open(my $fh, '>', "$dir/tmp/$base") or die "corpus: $dir/tmp/$base: $!\n";
    print $fh $text or die "corpus: write $dir/tmp/$base: $!\n";
    close($fh) or die "corpus: close $dir/tmp/$base: $!\n";
    utime($time, $time, "$dir/tmp/$base");
    rename("$dir/tmp/$base", $path) or die "corpus: rename to $path: $!\n";
}

sub make_folder {
    my ($root, $folder) = @_;
    my $dir = folder_dir($root, $folder);
    for my $sub ('', '/cur', '/new', '/tmp') {
        next if -d "$dir$sub";
        mkdir("$dir$sub") or die "corpus: mkdir $dir$sub: $!\n";
    }
    if ($folder ne 'INBOX') {
        open(my $fh, '>', "$dir/maildirfolder") or die "corpus: $dir/maildirfolder: $!\n";
        close($fh);
    }
    return $dir;
}

sub generate {
    my ($seed, $total, $nfolders, $nlarge, $root) = @_;
    srand($seed);
    pool_init($seed);
    my @folders = folder_names($nfolders);
    # Zipf-like share per folder, INBOX largest; Junk and Trash small.
    my @w = map { 1 / ($_ + 1)**0.9 } 0 .. $#folders;
    for my $i (0 .. $#folders) { $w[$i] /= 8 if $folders[$i] eq 'Junk' || $folders[$i] eq 'Trash' }
    my $sum = 0;
    $sum += $_ for @w;
    my @count = map { int($total * $_ / $sum) } @w;
    my $left = $total;
    $left -= $_ for @count;
    $count[$_ % @count]++ for 0 .. $left - 1;
    # Which messages are large (spread evenly), which carry attachments (5 %).
    my %large;
    $large{ int(($_ + 0.5) * $total / $nlarge) } = 1 for 0 .. $nlarge - 1;
    open(my $fh, '>', "$root/subscriptions") or die "corpus: $root/subscriptions: $!\n";
    print $fh "$_\n" for grep { $_ ne 'INBOX' } @folders;
    close($fh);
    my $n = 0;
    for my $fi (0 .. $#folders) {
        my $folder = $folders[$fi];
        my $dir = make_folder($root, $folder);
        my $list = $folder =~ m{^lists/(.*)} ? $1 : undef;
        my @recent;
        my $t = 1672531200 + $fi * 3600;
        my $bytes = 0;
        for my $k (1 .. $count[$fi]) {
            my ($kind, $size);
            if ($large{$n}) {
                ($kind, $size) = ('l', 1_000_000 + int(rand(4_000_000)));
            } elsif (rand() < 0.05) {
                ($kind, $size) = ('a', 50_000 + int(rand(150_000)));
            } else {
                ($kind, $size) = ('t', 2_000 + int(rand(8_000)));
            }
            $t += 60 + int(rand(2 * 63072000 / ($count[$fi] + 1)));
            my %m = (n => $n, kind => $kind, size => $size, time => $t, list => $list,
                id => sprintf('bench-%d-%d@corpus.example.org', $seed, $n));
            if (@recent && rand() < 0.4) {
                my $p = $recent[int(rand(@recent))];
                $m{parent} = $p->{id};
                my @refs = (@{ $p->{refs} }, $p->{id});
                @refs = @refs[-10 .. -1] if @refs > 10;
                $m{refs} = \@refs;
                ($m{subject} = $p->{subject}) =~ s/^(Re: )?/Re: /;
            } else {
                $m{refs} = [];
                $m{subject} = join(' ', map { word() } 1 .. 3 + int(rand(5)));
            }
            my $text = message(%m);
            my $seen = $folder eq 'Sent' || rand() < ($folder eq 'Junk' ? 0.3 : 0.75);
            my $flags;
            if ($seen) {
                $flags = '';
                $flags .= 'F' if rand() < 0.04;
                $flags .= 'R' if rand() < 0.15;
                $flags .= 'S';
            }
            write_message($dir, $text, $t, $flags);
            push @recent, { id => $m{id}, refs => $m{refs}, subject => $m{subject} };
            shift @recent if @recent > 50;
            $bytes += length($text);
            $n++;
        }
        print "$folder\t$count[$fi]\t$bytes\n";
    }
}

sub arrivals {
    my ($seed, $round, $n, $root) = @_;
    srand($seed * 1000 + $round);
    pool_init($seed);
    my @targets = ('INBOX', 'Sent', 'Archive');
    my $t = 1767225600 + $round * 86400;
    for my $k (0 .. $n - 1) {
        my $folder = $targets[$k % @targets];
        my $dir = folder_dir($root, $folder);
        my $kind = rand() < 0.05 ? 'a' : 't';
        my $size = $kind eq 'a' ? 50_000 + int(rand(150_000)) : 2_000 + int(rand(8_000));
        my $text = message(n => 1e6 + $k, kind => $kind, size => $size, time => $t + $k,
            refs => [], id => sprintf('bench-%d-r%d-%d@corpus.example.org', $seed, $round, $k),
            subject => join(' ', map { word() } 1 .. 5));
        write_message($dir, $text, $t + $k, undef);
    }
}

sub uidset { join(',', sort { $a <=> $b } @_) }

sub changes {
    my ($seed, $round, $nflags, $nexpunge) = @_;
    srand($seed * 1000 + 500 + $round);
    my @msgs;
    my $header = <STDIN>;
    while (my $line = <STDIN>) {
        chomp $line;
        my ($box, $uid, $flags) = split(/\t/, $line, 3);
        next unless defined $uid && $uid =~ /^\d+$/;
        push @msgs, [$box, $uid, $flags // ''];
    }
    die "corpus: only " . scalar(@msgs) . " messages on the server\n" if @msgs < $nflags + $nexpunge;
    # A partial Fisher-Yates shuffle picks distinct messages.
    for my $i (0 .. $nflags + $nexpunge - 1) {
        my $j = $i + int(rand(@msgs - $i));
        @msgs[$i, $j] = @msgs[$j, $i];
    }
    my %ops;
    for my $i (0 .. $nflags - 1) {
        my ($box, $uid, $flags) = @{ $msgs[$i] };
        my $flag = $i % 5 < 3 ? '\Seen' : '\Flagged';
        my $op = index($flags, $flag) >= 0 ? 'remove' : 'add';
        push @{ $ops{"flags\t$op\t$flag\t$box"} }, $uid;
    }
    for my $i ($nflags .. $nflags + $nexpunge - 1) {
        my ($box, $uid) = @{ $msgs[$i] };
        push @{ $ops{"expunge\t$box"} }, $uid;
    }
    for my $key (sort keys %ops) {
        my @k = split(/\t/, $key);
        my $box = pop @k;
        print join("\t", @k, 'mailbox', $box, 'uid', uidset(@{ $ops{$key} })), "\n";
    }
}

sub digest_dir {
    my ($root, $strip) = @_;
    my @out;
    find({ no_chdir => 1, wanted => sub {
        return unless -f $_ && $File::Find::dir =~ m{/(cur|new)$};
        (my $folder = $File::Find::dir) =~ s{^\Q$root\E/?}{};
        $folder =~ s{/?(cur|new)$}{};
        $folder = '.' if $folder eq '';
        open(my $fh, '<:raw', $_) or die "corpus: $_: $!\n";
        local $/;
        my $text = <$fh>;
        close($fh);
        $text =~ s/\r\n/\n/g;
        if ($strip) {
            # mbsync adds one "X-TUID:" line at the end of the header of what it downloads.
            my $end = index($text, "\n\n");
            my $len = $end < 0 ? length($text) : $end + 1;
            my $head = substr($text, 0, $len);
            substr($text, 0, $len) = $head if $head =~ s/^X-TUID: [^\n]*\n//m;
        }
        push @out, "$folder\t" . sha256_hex($text) . "\t" . length($text);
    } }, $root);
    return sort @out;
}

sub compare {
    my ($digest, $local, $strip) = @_;
    open(my $fh, '<', $digest) or die "corpus: $digest: $!\n";
    my %want;
    while (<$fh>) { chomp; $want{$_}++ }
    close($fh);
    my $nserver = 0;
    $nserver += $_ for values %want;
    my ($nlocal, $extra) = (0, 0);
    my %bad;
    for my $d (digest_dir($local, $strip)) {
        $nlocal++;
        if ($want{$d}) {
            $want{$d}--;
        } else {
            $extra++;
            $bad{ (split(/\t/, $d))[0] }++;
        }
    }
    my $missing = 0;
    for my $d (keys %want) {
        next unless $want{$d};
        $missing += $want{$d};
        $bad{ (split(/\t/, $d))[0] }++;
    }
    if ($missing || $extra) {
        printf "integrity: FAILED: %d server messages, %d local files, %d missing or different, "
          . "%d extra (folders: %s)\n", $nserver, $nlocal, $missing, $extra,
          join(' ', (sort keys %bad)[0 .. (keys %bad > 5 ? 4 : keys(%bad) - 1)]);
        exit 1;
    }
    printf "integrity: ok, %d messages byte-identical\n", $nserver;
}

my $cmd = shift @ARGV // '';
if ($cmd eq 'generate' && @ARGV == 5) {
    generate(@ARGV);
} elsif ($cmd eq 'arrivals' && @ARGV == 4) {
    arrivals(@ARGV);
} elsif ($cmd eq 'changes' && @ARGV == 4) {
    changes(@ARGV);
} elsif ($cmd eq 'digest' && @ARGV == 1) {
    print "$_\n" for digest_dir($ARGV[0], 0);
} elsif ($cmd eq 'compare' && (@ARGV == 2 || (@ARGV == 3 && $ARGV[2] eq '--strip-x-tuid'))) {
    compare($ARGV[0], $ARGV[1], @ARGV == 3);
} else {
    die "usage: corpus.pl generate SEED MESSAGES FOLDERS LARGE DIR | arrivals SEED ROUND N DIR |\n"
      . "       changes SEED ROUND NFLAGS NEXPUNGE | digest DIR | compare DIGEST DIR [--strip-x-tuid]\n";
}
