MODULE DexnetGrasp
    ! Grasp executor for gqcnn-ros2 (src/yumi_bridge/yumi_bridge/rws.py, RwsExecutor).
    !
    ! Load this module into BOTH YuMi motion tasks (T_ROB_L and T_ROB_R) and start main in each, in AUTO mode.
    ! The ROS side never starts a motion by itself: over Robot Web Services it writes the target and the gripper
    ! command below, then writes a new value into nCommand. main runs that one command (a MoveL followed by an
    ! optional gripper action) and copies nCommand into nDone when it has finished, or sets nError/sError when it
    ! failed. The client polls nDone, then reads nError and nGripperPos.
    !
    ! TASK PERS: each arm's task keeps its own copy; a plain PERS of the same name would be shared by both tasks
    ! and one arm would execute the other's targets.
    !
    ! NOT VERIFIED ON A CONTROLLER: this module was written from the RAPID and SmartGripper manuals and has never
    ! been loaded into a robot. Check it in RobotStudio (virtual YuMi with the SmartGripper option) first.

    ! Flange target (tool0) in the base frame (wobj0): position in mm, orientation [q1, q2, q3, q4] = [w, x, y, z].
    ! robconf and extax (the YuMi arm angle) are replaced by the current ones, so the client sends placeholders.
    TASK PERS robtarget rTarget := [[350,0,250],[0,1,0,0],[0,0,0,4],[9E+09,9E+09,9E+09,9E+09,9E+09,9E+09]];
    TASK PERS num nSpeed := 100;         ! TCP speed, mm/s
    TASK PERS num nOriSpeed := 85;       ! reorientation speed, deg/s
    TASK PERS num nGripperCmd := 0;      ! after the move: 0 nothing, 1 open to nGripperWidth, 2 close with nGripperForce
    TASK PERS num nGripperWidth := 0;    ! jaw opening for command 1, mm
    TASK PERS num nGripperForce := 20;   ! holding force for command 2, N (the smart gripper holds at most 20 N)
    TASK PERS num nCommand := 0;         ! written by the client: a value different from nDone starts one command
    TASK PERS num nDone := 0;            ! written here: the last finished (or failed) command
    TASK PERS num nError := 0;           ! 0, or the ERRNO of the failed command
    TASK PERS string sError := "";       ! what failed, in words
    TASK PERS num nGripperPos := 0;      ! measured jaw opening after the command, mm

    PROC main()
        ! Commands written before this task started are stale: never execute them.
        nDone := nCommand;
        WHILE TRUE DO
            WaitUntil nCommand <> nDone \PollRate:=0.02;
            RunCommand;
        ENDWHILE
    ENDPROC

    PROC RunCommand()
        VAR num command;
        VAR robtarget current;
        VAR robtarget target;
        VAR speeddata speed;

        command := nCommand;
        nError := 0;
        sError := "";
        current := CRobT(\Tool:=tool0 \WObj:=wobj0);
        target := rTarget;
        ! Keep the current arm configuration and arm angle: the client only knows the Cartesian pose.
        target.robconf := current.robconf;
        target.extax := current.extax;
        speed := [nSpeed, nOriSpeed, 5000, 1000];
        ! Linear moves between nearby poses: do not stop on configuration changes of the wrist.
        ConfL \Off;
        MoveL target, speed, fine, tool0 \WObj:=wobj0;
        TEST nGripperCmd
        CASE 1:
            g_MoveTo nGripperWidth;
        CASE 2:
            g_GripIn \holdForce:=nGripperForce;
        ENDTEST
        nGripperPos := g_GetPos();
        nDone := command;
    ERROR
        ! Report instead of stopping the program: the client turns this into ROBOT_ERROR with the message.
        nError := ERRNO;
        sError := "ERRNO " + NumToStr(ERRNO, 0) + " in command " + NumToStr(command, 0);
        nGripperPos := g_GetPos();
        nDone := command;
        RETURN;
    ENDPROC
ENDMODULE
