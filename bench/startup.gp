# bench/startup.gp: bar chart of start-up medians with p90 whiskers.
# Called by bench/startup.sh:
#   gnuplot -e "summary='build/bench/startup-summary.csv'; out='build/bench/startup.png'; runs='50'" bench/startup.gp
# Input columns: name,median_us,p90_us,runs (rows with NA are skipped).
if (!exists("summary")) summary = 'build/bench/startup-summary.csv'
if (!exists("out")) out = 'build/bench/startup.png'
if (!exists("runs")) runs = '?'

set terminal pngcairo size 900,540 noenhanced font ",11"
set output out
set datafile separator ","
set datafile missing "NA"
set title sprintf("Start-up wall time, whole process (median, whisker to p90; %s runs each)", runs)
set ylabel "milliseconds (log scale)"
set logscale y
set yrange [0.1:*]
set grid ytics mytics
set style fill solid 0.6 border -1
set boxwidth 0.6
set xtics nomirror
set key off
set offsets 0.3, 0.3, 0, 0

# Skip NA rows (unavailable yardsticks) so they leave no gap.
avail(x) = (strcol(x) eq "NA") ? NaN : column(x)

plot summary every ::1 using 0:(avail(2)/1000):xtic(1) with boxes lc rgb "#4a7ebb", \
     '' every ::1 using 0:(avail(2)/1000):(avail(2)/1000):(avail(3)/1000) with yerrorbars lc rgb "black" pt 7 ps 0.4 lw 1.5, \
     '' every ::1 using 0:(avail(3)/1000):(sprintf("%.2f", avail(2)/1000)) with labels offset 0,1 font ",10"
