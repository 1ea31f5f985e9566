# The nested guest of the evacuation test: a boot sector that prints a counter on COM1, one line
# of 8 hex digits about once a second (the BIOS tick count at 0x46c, 18.2 Hz), halting between
# ticks so that the guest costs its TCG host almost nothing. Its state is only memory and
# registers: after a live migration the count carries on; a restarted guest would begin at 1.
#   as --32 counter.S -o counter.o && ld -m elf_i386 -Ttext 0x7c00 --oformat binary counter.o
        .code16
        .text
        .globl _start
_start:
        cli
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $0x7c00, %sp
        sti
        xorl    %ebx, %ebx
next:
        incl    %ebx
        movl    %ebx, %edx
        movw    $8, %cx
digit:
        roll    $4, %edx
        movb    %dl, %al
        andb    $0x0f, %al
        addb    $'0', %al
        cmpb    $'9', %al
        jbe     1f
        addb    $7, %al
1:
        call    putc
        loop    digit
        movb    $'\n', %al
        call    putc
        movw    0x046c, %si
        addw    $18, %si
wait:
        hlt
        movw    0x046c, %ax
        subw    %si, %ax
        js      wait
        jmp     next
putc:
        pushw   %dx
        movw    $0x3f8, %dx
        outb    %al, %dx
        popw    %dx
        ret
        .org    510
        .word   0xaa55
